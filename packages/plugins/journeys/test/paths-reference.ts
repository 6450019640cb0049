/** The reference paths: plain TypeScript over events in memory, from the definition in paths.query.ts. */
import type { PathsSpec } from '../src/plugin/paths.query';
import type { RefEvent } from './reference';

/** Raw rows as the SQL returns them: level 0 with the anchored count, then (level, source, target, people). */
export function referencePaths(events: RefEvent[], allowed: ReadonlySet<string>, s: PathsSpec) {
  const inRange = (e: RefEvent) => (s.fromMs === null || e.ts >= s.fromMs) && (s.toMs === null || e.ts < s.toMs);
  const order = (a: RefEvent, b: RefEvent) => a.ts - b.ts || a.eventId - b.eventId;
  const byPerson = new Map<string, RefEvent[]>();
  for (const e of events) {
    if (!inRange(e)) continue;
    let l = byPerson.get(e.profileId);
    if (!l) byPerson.set(e.profileId, (l = []));
    l.push(e);
  }
  let anchored = 0;
  const edges = new Map<string, number>();
  for (const [person, list] of byPerson) {
    if (!allowed.has(person)) continue;
    list.sort(order);
    const at = list.findIndex((e) => e.name === s.event);
    if (at < 0) continue;
    anchored++;
    const seq = s.direction === 'next' ? list.slice(at + 1) : list.slice(0, at).reverse();
    let prev = s.event;
    let level = 0;
    const seen = new Set<string>();
    for (const e of seq) {
      if (e.name === prev) continue;
      level++;
      if (level > s.depth) break;
      const key = JSON.stringify([level, prev, e.name]);
      if (!seen.has(key)) {
        seen.add(key);
        edges.set(key, (edges.get(key) ?? 0) + 1);
      }
      prev = e.name;
    }
  }
  return [
    { level: 0, source: null, target: null, people: anchored },
    ...[...edges].map(([key, people]) => {
      const [level, source, target] = JSON.parse(key) as [number, string, string];
      return { level, source, target, people };
    }),
  ];
}
