import http from 'node:http';
import net from 'node:net';
import { context, SpanKind, trace, type Span } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './support/until';

const exporter = new InMemorySpanExporter();
let env: TestEnvironment;

beforeAll(async () => {
  env = await createTestEnvironment({}, { tracing: { exporter } });
  // Seed a profile so the query reads rows.
  await env.post('/v1/identify', { userId: 'trace-seed', traits: { plan: 'pro' } });
});

afterAll(async () => {
  await env?.close();
});

const QUERY = 'query TraceProbe { profileByIdentity(type: "user_id", value: "trace-seed") { id traits } }';

/** Sends the probe with a request id and waits until its HTTP span has ended (it ends after the response is sent). */
async function probe(requestId: string): Promise<ReadableSpan> {
  const r = await env.graphql(QUERY, {}, { headers: { 'x-request-id': requestId } });
  expect(r.body.errors).toBeUndefined();
  expect(r.body.data.profileByIdentity.id).toBeTruthy();
  return until(
    () => exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes['rapport.request_id'] === requestId),
    (s) => s !== undefined,
  ) as Promise<ReadableSpan>;
}

const traceOf = (http: ReadableSpan) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === http.spanContext().traceId);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

/**
 * Every span that starts a trace is a request's HTTP span: nothing (a statement of background work,
 * a GraphQL span) is traced on its own. (Work a request starts and leaves running, such as the
 * incremental matching an identify queues, stays in that request's trace, and may end after it.)
 */
function expectOnlyRequestsStartTraces() {
  for (const s of exporter.getFinishedSpans()) if (!parentOf(s)) expect({ name: s.name, kind: s.kind }).toEqual({ name: s.name, kind: SpanKind.SERVER });
}

describe('tracing with an in-memory exporter', () => {
  it('one GraphQL request is one trace: HTTP, GraphQL (operation name) and pg spans, with the request id', async () => {
    exporter.reset();
    const http = await probe('trace-one');
    const spans = traceOf(http);
    expect(http).toMatchObject({ name: 'POST /graphql', kind: SpanKind.SERVER });
    expect(http.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/graphql', 'http.response.status_code': 200, 'rapport.request_id': 'trace-one' });
    expect(parentOf(http)).toBeUndefined();

    const graphql = spans.filter((s) => s.attributes['graphql.operation.name'] !== undefined);
    expect(graphql).toHaveLength(1);
    expect(graphql[0]).toMatchObject({ name: 'query TraceProbe' });
    expect(graphql[0].attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'TraceProbe', 'rapport.request_id': 'trace-one' });
    expect(parentOf(graphql[0])).toBe(http.spanContext().spanId);

    const pg = spans.filter((s) => s.attributes['db.system.name'] === 'postgresql');
    expect(pg.length).toBeGreaterThan(0);
    for (const s of pg) expect(s.kind).toBe(SpanKind.CLIENT);
    // The profile read runs inside the GraphQL span.
    const underGraphql = pg.filter((s) => parentOf(s) === graphql[0].spanContext().spanId);
    expect(underGraphql.map((s) => s.attributes['db.operation.name'])).toContain('SELECT');
    // No statement text carries a value: they are parameterised.
    for (const s of pg) expect(String(s.attributes['db.query.text'])).not.toContain('trace-seed');

    // A statement run outside any request (as background work runs) is not traced, nor one run in
    // the context of a request that has ended (a queue's loop the request started keeps its context).
    await env.server.core.db.query('SELECT 1 AS outside_request');
    await context.with(trace.setSpan(context.active(), http as unknown as Span), () => env.server.core.db.query('SELECT 1 AS after_request'));
    expect(exporter.getFinishedSpans().filter((s) => /outside_request|after_request/.test(String(s.attributes['db.query.text'])))).toEqual([]);
    // The request's spans are in this trace, and only requests start traces.
    const tagged = exporter.getFinishedSpans().filter((s) => s.attributes['rapport.request_id'] === 'trace-one');
    expect(tagged.map((s) => s.spanContext().traceId)).toEqual([http.spanContext().traceId, http.spanContext().traceId]);
    expectOnlyRequestsStartTraces();
  });

  it('two requests are two traces', async () => {
    exporter.reset();
    const a = await probe('trace-a');
    const b = await probe('trace-b');
    expect(a.spanContext().traceId).not.toBe(b.spanContext().traceId);
    for (const [http, id] of [[a, 'trace-a'], [b, 'trace-b']] as const) {
      const spans = traceOf(http);
      expect(spans.filter((s) => s.name === 'query TraceProbe')).toHaveLength(1);
      expect(spans.find((s) => s.name === 'query TraceProbe')!.attributes['rapport.request_id']).toBe(id);
      expect(spans.some((s) => s.attributes['db.system.name'] === 'postgresql')).toBe(true);
    }
    expectOnlyRequestsStartTraces();
  });

  it("a caller's traceparent makes the request part of its trace; the span names the route pattern, never the URL", async () => {
    exporter.reset();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await env.post('/v1/track', { userId: 'trace-seed', event: 'Traced' }, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-request-id': 'trace-track' } });
    expect(res.status).toBe(200);
    const http = await until(
      () => exporter.getFinishedSpans().find((s) => s.attributes['rapport.request_id'] === 'trace-track'),
      (s) => s !== undefined,
    );
    expect(http!.spanContext().traceId).toBe(traceId);
    expect(http!.name).toBe('POST /v1/track');
    // The ingestion transaction's statements are in the same trace.
    expect(traceOf(http!).some((s) => s.attributes['db.operation.name'] === 'INSERT')).toBe(true);
  });

  it('a body that arrives in pieces keeps its request\'s trace (the stream events run in the request\'s context)', async () => {
    exporter.reset();
    const body = JSON.stringify({ userId: 'trace-seed', event: 'Slow body' });
    const { hostname, port } = new URL(env.url);
    // Raw HTTP on a socket: the headers and the first piece of the body, then the rest later, in another read.
    const status = await new Promise<number>((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () => {
        socket.write(
          `POST /v1/track HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${env.keys.ingest}\r\n` +
            `X-Request-Id: trace-pieces\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
        );
        setTimeout(() => socket.write(body.slice(10)), 200);
      });
      let answer = '';
      socket.on('data', (d) => (answer += d.toString()));
      socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1])));
      socket.on('error', reject);
    });
    expect(status).toBe(200);
    const http = await until(() => exporter.getFinishedSpans().find((s) => s.attributes['rapport.request_id'] === 'trace-pieces'), (s) => s !== undefined);
    expect(traceOf(http!).some((s) => s.attributes['db.operation.name'] === 'INSERT')).toBe(true);
  });
});

describe('tracing to an OTLP endpoint', () => {
  it('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT turns tracing on; spans reach the collector, flushed when the server stops', async () => {
    const received: Array<{ path: string; type: string; body: string }> = [];
    const collector = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ path: req.url ?? '', type: String(req.headers['content-type']), body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const { port } = collector.address() as { port: number };
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `http://127.0.0.1:${port}/v1/traces`;
    let other: TestEnvironment | null = null;
    try {
      other = await createTestEnvironment();
      const r = await other.graphql('query OtlpProbe { __typename }', {}, { headers: { 'x-request-id': 'otlp-probe' } });
      expect(r.status).toBe(200);
      await other.close(); // flushes the batch
      other = null;
      const sent = received.map((x) => x.body).join('\n');
      expect(received[0]).toMatchObject({ path: '/v1/traces', type: expect.stringContaining('json') });
      expect(sent).toContain('query OtlpProbe');
      expect(sent).toContain('otlp-probe');
      expect(sent).toContain('POST /graphql');
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
      await other?.close();
      collector.close();
    }
  });
});
