import fs from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on Linux). */
const TICKS = 100;

/**
 * CPU seconds (user + system) used so far by a process and all its descendants, read from Linux `/proc`: a server
 * child and the embedded PostgreSQL it started (postmaster, backends, background workers). Processes that already
 * exited are not counted (their time is in their parent's `cutime` only once reaped), so read it around a span in
 * which the tree does not change much; PostgreSQL's backends live as long as their pooled connections.
 */
export function treeCpuSeconds(rootPid) {
  const stats = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      stats.set(Number(d), statOf(d));
    } catch {
      // The process exited while we read.
    }
  }
  const children = new Map();
  for (const [pid, s] of stats) {
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid).push(pid);
  }
  let ticks = 0;
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop();
    ticks += stats.get(pid)?.cpu ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return ticks / TICKS;
}

/** CPU seconds (user + system) one process has used so far; 0 once it is gone. */
export function processCpuSeconds(pid) {
  try {
    return statOf(pid).cpu / TICKS;
  } catch {
    return 0;
  }
}

/** A process's parent and CPU ticks (user + system) from `/proc/<pid>/stat`; throws once it is gone. */
function statOf(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command (in parentheses, which may hold spaces): state ppid ... utime(14) stime(15).
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]) };
}

/** Local TCP ports of a process's sockets (from its file descriptors and /proc/net/tcp{,6}). */
export function localPortsOf(pid) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // Closed while we read.
    }
  }
  const ports = new Set();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && inodes.has(f[9])) ports.add(parseInt(f[1].split(':')[1], 16));
    }
  }
  return ports;
}
