// Renders the pictures of docs/journeys.md from real answers: starts a Rapport server with the journeys plugin (fresh
// embedded PostgreSQL), sends seeded synthetic journeys through POST /v1/batch, waits for the plugin's delivery to
// catch up, runs the funnel, retention, lifecycle and paths queries through GraphQL, and writes one hand-made SVG per
// answer (no chart library) under docs/journeys/, with the answer beside it as JSON. Same seed, same files.
// Usage (from the repository root): npx tsc -b && node packages/plugins/journeys/scripts/render-charts.mjs [--out docs/journeys]
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const require = createRequire(import.meta.url);
const { startServerProcess } = await import(path.join(ROOT, 'bench/lib/server-process.mjs'));
const { generateJourneys } = require(path.join(ROOT, 'packages/plugins/journeys/dist/eval/synthetic-journeys'));

const outArg = process.argv.indexOf('--out');
const OUT = path.resolve(ROOT, outArg > 0 ? process.argv[outArg + 1] : 'docs/journeys');

// The data: 2,000 people over January 2026 (a Monday), a 4-step shop funnel among noise events.
const STEPS = ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed'];
const NOISE = ['Search Performed', 'Review Read', 'Banner Clicked'];
const START = Date.UTC(2026, 0, 5);
const WINDOW_S = 7 * 86400;
const g = generateJourneys({ seed: 16, people: 2000, steps: STEPS, noise: NOISE, eventsPerPerson: 10, windowMs: WINDOW_S * 1000, startMs: START });

// The queries, as a client sends them (the command in docs/journeys.md shows each).
const QUERIES = {
  funnel: `{ funnel(steps: [${STEPS.map((s) => `{ event: "${s}" }`).join(', ')}], windowSeconds: ${WINDOW_S}, mode: ORDERED, bins: 7) {
    k series { breakdownValue steps { step event entered converted conversionFromFirst conversionFromPrevious medianSecondsToConvert p90SecondsToConvert suppressed } } } }`,
  retention: `{ retention(startEvent: "Product Viewed", returnEvent: "Review Read", from: "${new Date(START).toISOString()}", period: WEEK, periods: 6) {
    k cohorts { start size suppressed cells { offset count rate suppressed } } } }`,
  lifecycle: `{ lifecycle(event: "Search Performed", from: "${new Date(START).toISOString()}", period: WEEK, periods: 7) {
    k periods { start new returning resurrecting dormant suppressed } } }`,
  paths: `{ paths(event: "Product Viewed", direction: NEXT, depth: 3) { k anchored suppressedEdges omittedEdges edges { level source target people } } }`,
};

// ---- SVG helpers -------------------------------------------------------------------------------------------------
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (n) => n.toLocaleString('en-US');
const pct = (r) => (r === null ? '–' : `${(r * 100).toFixed(r >= 0.995 || r === 0 ? 0 : 1).replace(/\.0$/, '')}%`);
const r1 = (x) => Math.round(x * 10) / 10;
const text = (x, y, s, o = {}) =>
  `<text x="${r1(x)}" y="${r1(y)}"${o.halo ? ' paint-order="stroke" stroke="#fff" stroke-width="3" stroke-linejoin="round"' : ''}${o.anchor ? ` text-anchor="${o.anchor}"` : ''}${o.size ? ` font-size="${o.size}"` : ''}${o.weight ? ` font-weight="${o.weight}"` : ''}${o.fill ? ` fill="${o.fill}"` : ''}>${esc(s)}</text>`;
const rect = (x, y, w, h, fill, extra = '') => `<rect x="${r1(x)}" y="${r1(y)}" width="${r1(w)}" height="${r1(h)}" fill="${fill}"${extra}/>`;
const svg = (w, h, title, body) => `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="Helvetica, Arial, sans-serif" font-size="12" fill="#222">
<title>${esc(title)}</title>
${rect(0, 0, w, h, '#ffffff')}
${text(16, 24, title, { size: 15, weight: 'bold' })}
${body.join('\n')}
</svg>
`;
const niceMax = (v) => {
  const p = 10 ** Math.floor(Math.log10(Math.max(1, v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
};
const BLUE = '#3b6fb6';
const day = (iso) => iso.slice(0, 10);

// ---- Funnel: bars per step, people and conversion --------------------------------------------------------------
function funnelSvg(a) {
  const steps = a.series[0].steps;
  const W = 640, H = 350, L = 64, R = 16, T = 56, B = 70;
  const max = niceMax(steps[0].entered ?? 0);
  const band = (W - L - R) / steps.length;
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const body = [text(16, 42, `ordered, 7-day window · ${num(steps[0].entered)} people entered · k = ${a.k}`, { size: 11, fill: '#555' })];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    body.push(`<line x1="${L}" x2="${W - R}" y1="${r1(y(v))}" y2="${r1(y(v))}" stroke="#e3e3e3"/>`, text(L - 6, y(v) + 4, num(v), { anchor: 'end', size: 10, fill: '#555' }));
  }
  body.push(text(14, T + (H - T - B) / 2, 'people', { size: 10, fill: '#555' }).replace('<text', `<text transform="rotate(-90 14 ${T + (H - T - B) / 2})"`));
  steps.forEach((s, i) => {
    const x = L + i * band + band * 0.18, w = band * 0.64, n = s.entered ?? 0;
    body.push(rect(x, y(n), w, y(0) - y(n), BLUE));
    body.push(text(x + w / 2, y(n) - 20, num(n), { anchor: 'middle', weight: 'bold' }));
    body.push(text(x + w / 2, y(n) - 6, i === 0 ? '100%' : `${pct(s.conversionFromFirst)} of step 1`, { anchor: 'middle', size: 10, fill: '#555' }));
    body.push(text(x + w / 2, H - B + 16, `${s.step}. ${s.event}`, { anchor: 'middle', size: 11 }));
    if (i > 0) {
      const med = s.medianSecondsToConvert === null ? '–' : `${(s.medianSecondsToConvert / 3600).toFixed(1)} h`;
      body.push(text(x + w / 2, H - B + 31, `${pct(s.conversionFromPrevious)} of step ${i}`, { anchor: 'middle', size: 10, fill: '#555' }));
      body.push(text(x + w / 2, H - B + 44, `median ${med} after it`, { anchor: 'middle', size: 10, fill: '#555' }));
    }
  });
  body.push(`<line x1="${L}" x2="${W - R}" y1="${y(0)}" y2="${y(0)}" stroke="#888"/>`);
  return svg(W, H, 'Funnel: Product Viewed → Order Completed', body);
}

// ---- Retention: the cohort triangle as a heat table ------------------------------------------------------------
function retentionSvg(a) {
  const cohorts = a.cohorts;
  const cols = Math.max(...cohorts.map((c) => c.cells.length));
  const cw = 62, rh = 26, L = 150, T = 70;
  const W = L + cols * cw + 16, H = T + cohorts.length * rh + 40;
  const body = [text(16, 42, 'weekly cohorts by first Product Viewed; cell: share who did Review Read that week', { size: 11, fill: '#555' })];
  body.push(text(16, T - 10, 'cohort (people)', { size: 11, weight: 'bold' }));
  for (let j = 0; j < cols; j++) body.push(text(L + j * cw + cw / 2, T - 10, `week +${j}`, { anchor: 'middle', size: 11, weight: 'bold' }));
  cohorts.forEach((c, i) => {
    const yy = T + i * rh;
    body.push(text(16, yy + 17, `${day(c.start)} (${c.size === null ? 'withheld' : num(c.size)})`, { size: 11 }));
    c.cells.forEach((cell, j) => {
      const x = L + j * cw;
      if (cell.suppressed || cell.rate === null) {
        body.push(rect(x + 1, yy + 1, cw - 2, rh - 2, '#f2f2f2'), text(x + cw / 2, yy + 17, cell.suppressed ? 'withheld' : '–', { anchor: 'middle', size: 10, fill: '#777' }));
        return;
      }
      const t = j === 0 ? 1 : Math.min(1, cell.rate / 0.6);
      const light = Math.round(96 - t * 56);
      body.push(rect(x + 1, yy + 1, cw - 2, rh - 2, `hsl(214, 55%, ${light}%)`));
      body.push(text(x + cw / 2, yy + 17, pct(cell.rate), { anchor: 'middle', size: 11, fill: light < 62 ? '#fff' : '#222' }));
    });
  });
  body.push(text(16, H - 14, `k = ${a.k}: cells of 1 to ${a.k - 1} people are withheld`, { size: 10, fill: '#777' }));
  return svg(W, H, 'Retention: Product Viewed → Review Read, weekly', body);
}

// ---- Lifecycle: stacked bars, dormant below the axis -----------------------------------------------------------
function lifecycleSvg(a) {
  const ps = a.periods;
  const KINDS = [['new', '#3b6fb6'], ['returning', '#5aa469'], ['resurrecting', '#e0a03a'], ['dormant', '#c8553d']];
  const W = 640, H = 360, L = 64, R = 130, T = 56, B = 44;
  const up = Math.max(...ps.map((p) => (p.new ?? 0) + (p.returning ?? 0) + (p.resurrecting ?? 0)));
  const down = Math.max(...ps.map((p) => p.dormant ?? 0));
  const top = niceMax(up), bottom = down === 0 ? 0 : niceMax(down);
  const y = (v) => T + (H - T - B) * ((top - v) / (top + bottom));
  const band = (W - L - R) / ps.length;
  const body = [text(16, 42, 'people doing Search Performed per week; dormant (did it the week before, not this one) below the axis', { size: 11, fill: '#555' })];
  for (const v of [top, top / 2, 0, -bottom / 2, -bottom].filter((v, i, all) => all.indexOf(v) === i)) {
    body.push(`<line x1="${L}" x2="${W - R}" y1="${r1(y(v))}" y2="${r1(y(v))}" stroke="${v === 0 ? '#888' : '#e3e3e3'}"/>`, text(L - 6, y(v) + 4, num(v), { anchor: 'end', size: 10, fill: '#555' }));
  }
  ps.forEach((p, i) => {
    const x = L + i * band + band * 0.2, w = band * 0.6;
    let acc = 0;
    for (const [k, color] of KINDS.slice(0, 3)) {
      const v = p[k] ?? 0;
      if (v > 0) body.push(rect(x, y(acc + v), w, y(acc) - y(acc + v), color));
      acc += v;
    }
    const d = p.dormant ?? 0;
    if (d > 0) body.push(rect(x, y(0), w, y(-d) - y(0), KINDS[3][1]));
    body.push(text(x + w / 2, H - B + 16, day(p.start).slice(5), { anchor: 'middle', size: 10 }));
  });
  body.push(text(L + (W - L - R) / 2, H - 8, 'week starting (2026, month-day)', { anchor: 'middle', size: 10, fill: '#555' }));
  KINDS.forEach(([k, color], i) => body.push(rect(W - R + 14, T + i * 20, 12, 12, color), text(W - R + 32, T + i * 20 + 10, k, { size: 11 })));
  body.push(text(W - R + 14, T + 100, `k = ${a.k}`, { size: 10, fill: '#777' }));
  return svg(W, H, 'Lifecycle: Search Performed, weekly', body);
}

// ---- Paths: a small Sankey -------------------------------------------------------------------------------------
function pathsSvg(a) {
  const edges = [...a.edges].sort((x, y) => x.level - y.level || y.people - x.people || x.source.localeCompare(y.source) || x.target.localeCompare(y.target));
  const depth = Math.max(...edges.map((e) => e.level));
  // Nodes: (column, name); column 0 is the anchor. A node's size is the larger of what flows in and out.
  const nodes = new Map();
  const node = (col, name) => {
    const key = `${col}|${name}`;
    if (!nodes.has(key)) nodes.set(key, { col, name, inp: 0, out: 0 });
    return nodes.get(key);
  };
  for (const e of edges) {
    node(e.level - 1, e.source).out += e.people;
    node(e.level, e.target).inp += e.people;
  }
  const W = 760, H = 400, L = 16, R = 16, T = 56, B = 36, NW = 10, GAP = 16;
  const colX = (c) => L + 120 + c * ((W - L - R - 240) / depth);
  const byCol = Array.from({ length: depth + 1 }, (_, c) => [...nodes.values()].filter((n) => n.col === c).sort((x, y) => Math.max(y.inp, y.out) - Math.max(x.inp, x.out) || x.name.localeCompare(y.name)));
  const scale = Math.min(...byCol.map((ns) => (H - T - B - GAP * (ns.length - 1)) / ns.reduce((s, n) => s + Math.max(n.inp, n.out), 0)));
  for (const ns of byCol) {
    let yy = T;
    for (const n of ns) {
      n.y = yy; n.h = Math.max(2, Math.max(n.inp, n.out) * scale); n.inY = yy; n.outY = yy;
      yy += n.h + GAP;
    }
  }
  const palette = ['#3b6fb6', '#5aa469', '#e0a03a', '#c8553d', '#7d5ba6', '#3a9aa8', '#8c8c8c'];
  const names = [...new Set([...nodes.values()].sort((x, y) => x.col - y.col || Math.max(y.inp, y.out) - Math.max(x.inp, x.out) || x.name.localeCompare(y.name)).map((n) => n.name))];
  const color = (name) => palette[names.indexOf(name) % palette.length];
  const body = [text(16, 42, `the next ${depth} steps after each person's first Product Viewed · ${num(a.anchored)} people · edges under k = ${a.k} left out (${a.suppressedEdges})`, { size: 11, fill: '#555' })];
  for (const e of edges) {
    const s = nodes.get(`${e.level - 1}|${e.source}`), t = nodes.get(`${e.level}|${e.target}`);
    const h = e.people * scale, x0 = colX(s.col) + NW, x1 = colX(t.col), y0 = s.outY + h / 2, y1 = t.inY + h / 2, mx = (x0 + x1) / 2;
    s.outY += h; t.inY += h;
    body.push(`<path d="M${r1(x0)},${r1(y0)} C${r1(mx)},${r1(y0)} ${r1(mx)},${r1(y1)} ${r1(x1)},${r1(y1)}" stroke="${color(e.target)}" stroke-opacity="0.35" stroke-width="${r1(Math.max(1, h))}" fill="none"><title>${esc(`${e.source} → ${e.target} (step ${e.level}): ${num(e.people)} people`)}</title></path>`);
  }
  for (const n of nodes.values()) {
    body.push(rect(colX(n.col), n.y, NW, n.h, color(n.name)));
    const right = n.col < depth / 2;
    const label = `${n.name} (${num(Math.max(n.inp, n.out))})`;
    body.push(text(right ? colX(n.col) - 4 : colX(n.col) + NW + 4, n.y + n.h / 2 + 4, label, { anchor: right ? 'end' : 'start', size: 10, halo: true }));
  }
  for (let c = 0; c <= depth; c++) body.push(text(colX(c) + NW / 2, H - 14, c === 0 ? 'anchor' : `step ${c}`, { anchor: 'middle', size: 10, fill: '#555' }));
  return svg(W, H, 'Paths: what people do after their first Product Viewed', body);
}

// ---- Run ---------------------------------------------------------------------------------------------------------
const server = await startServerProcess({ journeys: {} });
try {
  const ingest = `Basic ${Buffer.from(`${server.keys.ingest}:`).toString('base64')}`;
  const batch = g.events.map((e) => ({
    type: 'track', messageId: `synthetic-${e.id}`, userId: `person-${e.person}`, event: e.name, timestamp: new Date(e.ts).toISOString(), properties: e.props,
  }));
  for (let i = 0; i < batch.length; i += 500) {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: ingest }, body: JSON.stringify({ batch: batch.slice(i, i + 500) }) });
    if (res.status !== 200) throw new Error(`batch: ${res.status} ${await res.text()}`);
  }
  const gql = async (query) => {
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.keys.admin}`, 'x-rapport-purpose': 'analytics' },
      body: JSON.stringify({ query }),
    });
    const body = await res.json();
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  for (;;) {
    const d = await gql('{ deliveryStatus { lag } }');
    if (d.deliveryStatus.every((s) => s.lag === 0)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  fs.mkdirSync(OUT, { recursive: true });
  const render = { funnel: funnelSvg, retention: retentionSvg, lifecycle: lifecycleSvg, paths: pathsSvg };
  for (const [name, query] of Object.entries(QUERIES)) {
    const answer = (await gql(query))[name];
    fs.writeFileSync(path.join(OUT, `${name}.json`), JSON.stringify(answer, null, 2) + '\n');
    fs.writeFileSync(path.join(OUT, `${name}.svg`), render[name](answer));
    console.log(`wrote ${path.relative(ROOT, path.join(OUT, `${name}.svg`))}`);
  }
} finally {
  await server.stop();
}
