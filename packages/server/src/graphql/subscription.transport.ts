/**
 * GraphQL subscriptions over WebSocket: the `graphql-transport-ws` protocol (graphql-ws, the one
 * Apollo Client, urql and Relay speak) on the HTTP server's `/graphql` path, as an upgrade.
 *
 * - Authentication: the API key in `connection_init`'s payload (or the upgrade's headers), verified
 *   like HTTP's; none or a bad one closes with 4401, a purpose the key may not use with 4403.
 * - Every subscription document passes HTTP's validation (graphql-js rules, document limits,
 *   operation type) and complexity limit; errors have HTTP's shape and codes.
 * - Every event is executed with a request context of its own (`executeEvent`): field guard,
 *   consent and audit as for a query.
 * - Limits (`api.subscription*`): subscriptions per connection, connections per key, time to
 *   authenticate, time without a subscription, bytes waiting to be sent.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { RapportError, type Logger, type RapportCore } from '@rapport/core/internal';
import type { FastifyInstance } from 'fastify';
import {
  createSourceEventStream, getOperationAST, getVariableValues, GraphQLError, parse, validate,
  type DocumentNode, type ExecutionArgs, type ExecutionResult,
} from 'graphql';
import { CloseCode, handleProtocols, makeServer, type Context, type SubscribePayload } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_TOKENS } from './document-limits.rule';
import type { GraphQLEngine } from './graphql-engine';
import { purposeFor } from './request-purpose';
import { AuthFailures, credentialsOf } from './subscription-auth';
import { asGraphQLError, clientError, type ErrorStage } from './subscription-errors';
import { END, executeEvent, KeyRevokedError, mapEvents, type Subscriber, type SubscriptionOperation } from './subscription-events';
import { addressOf, closeReason, refuse } from './subscription-socket';

/** The path WebSocket upgrades are served on (the GraphQL endpoint's own). */
export const SUBSCRIPTIONS_PATH = '/graphql';
/** Largest message a client may send (a subscribe message's document and variables), in bytes. */
const MAX_CLIENT_MESSAGE_BYTES = 512 * 1024;
/** How often each socket is pinged; one that has not answered the previous ping is dropped. */
const KEEPALIVE_MS = 30_000;
/** How long closing sockets get at shutdown before they are cut. */
const CLOSE_WAIT_MS = 2_000;
/** How long a socket closed for a full send buffer gets to take its close frame before it is cut. */
const SLOW_CLOSE_WAIT_MS = 1_000;
/** Subscribe messages a connection may send a minute, per subscription it may hold (20 by default: 200 a minute). */
const SUBSCRIBES_PER_LIMIT_PER_MINUTE = 10;
/** Sockets one address may hold that have not authenticated yet (connection_init). */
const UNAUTHENTICATED_PER_ADDRESS = 20;

/** One WebSocket connection. */
interface Connection {
  id: string;
  socket: WebSocket;
  /** The upgrade request's headers. */
  headers: IncomingHttpHeaders;
  address: string;
  log: Logger;
  subscriber: Subscriber | null;
  /** Subscriptions whose event source is live. */
  live: number;
  /**
   * This connection's live results by subscription id: what the per-connection limit counts, and what is ended when
   * the socket closes (`onClose`), whatever graphql-ws tracks.
   */
  results: Map<string, AsyncGenerator<ExecutionResult>>;
  /** Subscribe messages being prepared now (counted against the per-connection limit). */
  starting: number;
  /** The client's messages, handled one after another (see `onMessage`). */
  inbox: Promise<void>;
  /** Resolves the wait of the subscribe message being handled, once it is prepared. */
  prepared: (() => void) | null;
  /** Subscribe messages in the current minute, and when it started (api.subscriptionsPerConnection * 10 a minute). */
  churn: { since: number; n: number };
  /** Last time the connection had a subscription (or opened). */
  busyAt: number;
  idleTimer: NodeJS.Timeout | null;
  alive: boolean;
  closed: Promise<void>;
}

/** What a subscribe message prepared for `subscribe`: the source stream, the operation, its connection and id. */
interface Prepared {
  id: string;
  source: AsyncIterator<unknown>;
  op: SubscriptionOperation;
  conn: Connection;
  requestId: string;
}

/** The WebSocket side of a server. */
export interface SubscriptionServer {
  /** Open connections. */
  readonly connections: number;
  /** Live subscriptions. */
  readonly subscriptions: number;
  /** Refuses new upgrades and closes every socket (1001), cutting those that do not close in time. */
  close(): Promise<void>;
}

/**
 * Serves subscriptions on `app`'s HTTP server: upgrades of `/graphql` speaking
 * `graphql-transport-ws`. Register before the server listens; {@link SubscriptionServer.close}
 * runs from the server's `preClose` hook, before Fastify stops accepting connections.
 */
export function registerSubscriptions(app: FastifyInstance, core: RapportCore, engine: GraphQLEngine): SubscriptionServer {
  const api = core.config.api;
  const failures = new AuthFailures(api.authFailuresPerMinute);
  const perKey = new Map<string, number>();
  const open = new Set<Connection>();
  const prepared = new WeakMap<ExecutionArgs, Prepared>();
  let liveTotal = 0;
  let closing = false;
  const logger = core.logger;

  core.metrics.gauge('rapport_graphql_ws_connections', 'Open GraphQL WebSocket connections (graphql-transport-ws).', () => open.size);
  core.metrics.gauge('rapport_graphql_subscriptions', 'Live GraphQL subscriptions.', () => liveTotal);

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES, handleProtocols, perMessageDeflate: false });

  const closeSocket = (conn: Connection, code: number, text: string) => {
    if (conn.socket.readyState === conn.socket.OPEN || conn.socket.readyState === conn.socket.CONNECTING) conn.socket.close(code, closeReason(text));
  };

  /** Closes an idle connection, or looks again when it will have been idle long enough. */
  const armIdle = (conn: Connection) => {
    if (!api.subscriptionIdleTimeoutMs) return;
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    const wait = conn.live > 0 ? api.subscriptionIdleTimeoutMs : Math.max(0, conn.busyAt + api.subscriptionIdleTimeoutMs - Date.now());
    conn.idleTimer = setTimeout(() => {
      conn.idleTimer = null;
      if (conn.live > 0) conn.busyAt = Date.now();
      if (conn.live === 0 && Date.now() - conn.busyAt >= api.subscriptionIdleTimeoutMs) {
        closeSocket(conn, 1000, `idle: no subscription for ${api.subscriptionIdleTimeoutMs} ms`);
      } else armIdle(conn);
    }, wait);
    conn.idleTimer.unref();
  };

  const errors = (conn: Connection, list: readonly GraphQLError[], stage: ErrorStage) => list.map((e) => clientError(e, stage, conn.log));

  const server = makeServer<Record<string, unknown>, Connection>({
    schema: engine.schema,
    connectionInitWaitTimeout: api.subscriptionInitTimeoutMs,

    // connection_init: the key and the purpose; false (after closing with the reason) refuses.
    async onConnect(ctx) {
      const conn = ctx.extra;
      const { secret, purpose } = credentialsOf(ctx.connectionParams, conn.headers);
      if (!secret) {
        failures.add(conn.address);
        closeSocket(conn, CloseCode.Unauthorized, 'no API key: send {"authorization": "Bearer <key>"} as the connection_init payload');
        return false;
      }
      try {
        const key = await core.services.keys.verify(secret);
        if (!key) {
          failures.add(conn.address);
          closeSocket(conn, CloseCode.Unauthorized, 'the API key is not valid: it is unknown or was revoked');
          return false;
        }
        const acting = await purposeFor(core, purpose, key);
        // Closed while the key was checked: its close already ran, so it must not be counted.
        if (conn.socket.readyState !== conn.socket.OPEN) return false;
        const held = perKey.get(key.id) ?? 0;
        if (held >= api.subscriptionConnectionsPerKey) {
          closeSocket(conn, CloseCode.TooManyInitialisationRequests, `this key holds ${held} connections, the limit (api.subscriptionConnectionsPerKey)`);
          return false;
        }
        perKey.set(key.id, held + 1);
        conn.subscriber = { key, secret, purpose: acting };
        conn.log = conn.log.child({ keyId: key.id });
        armIdle(conn);
        return true;
      } catch (err) {
        if (err instanceof RapportError && err.code === 'FORBIDDEN') closeSocket(conn, CloseCode.Forbidden, err.message);
        else if (err instanceof RapportError && err.status < 500) closeSocket(conn, CloseCode.BadRequest, err.message);
        else {
          conn.log.warn({ err: (err as Error).message }, 'graphql websocket: authentication failed');
          closeSocket(conn, 1013, 'the server cannot check keys now (database unavailable): retry later');
        }
        return false;
      }
    },

    // A subscribe message: the limits, the document's checks, then the event source, started here
    // so that nothing after this point is missed. Errors answer with an `error` message.
    async onSubscribe(ctx, id, payload) {
      const conn = ctx.extra;
      const who = conn.subscriber!;
      // Counted from what this server runs, not from graphql-ws's table (which a reused id can make forget one).
      const others = conn.starting + [...conn.results.keys()].filter((s) => s !== id).length;
      if (others >= api.subscriptionsPerConnection) {
        return [new GraphQLError(`this connection holds ${others} subscriptions, the limit: complete one first, or open another connection`, {
          extensions: { code: 'RATE_LIMITED', rule: 'subscriptionsPerConnection', limit: api.subscriptionsPerConnection },
        })];
      }
      // Each subscribe is parsed, validated, priced and started: a client may not churn them without bound.
      const now = Date.now();
      if (now - conn.churn.since >= 60_000) conn.churn = { since: now, n: 0 };
      const perMinute = api.subscriptionsPerConnection * SUBSCRIBES_PER_LIMIT_PER_MINUTE;
      if (++conn.churn.n > perMinute) {
        return [new GraphQLError(`over ${perMinute} subscribe messages in a minute on this connection: wait ${Math.ceil((conn.churn.since + 60_000 - now) / 1000)} s`, {
          extensions: { code: 'RATE_LIMITED', rule: 'subscribesPerMinute', limit: perMinute },
        })];
      }
      conn.starting++;
      try {
        return await prepare(conn, who, id, payload);
      } finally {
        conn.starting--;
        conn.prepared?.();
      }
    },

    // Each event: executed for the subscriber with a context of its own.
    subscribe(args) {
      const p = prepared.get(args);
      if (!p) return { errors: [new GraphQLError('the subscription was not prepared')] };
      prepared.delete(args);
      return events(p);
    },

    onNext(ctx, _id, _payload, _args, result) {
      return {
        ...(result.data !== undefined ? { data: result.data } : {}),
        ...(result.errors ? { errors: errors(ctx.extra, result.errors, 'INTERNAL_SERVER_ERROR') } : {}),
        ...(result.extensions ? { extensions: result.extensions } : {}),
      };
    },
    onError(ctx, _id, _payload, list) {
      return errors(ctx.extra, list, 'INTERNAL_SERVER_ERROR');
    },
    onComplete(ctx) {
      ctx.extra.busyAt = Date.now();
    },
    onClose(ctx: Context<Record<string, unknown>, Connection>) {
      const conn = ctx.extra;
      if (conn.idleTimer) clearTimeout(conn.idleTimer);
      endAll(conn);
      const keyId = conn.subscriber?.key.id;
      if (keyId) {
        const held = (perKey.get(keyId) ?? 1) - 1;
        if (held > 0) perKey.set(keyId, held);
        else perKey.delete(keyId);
      }
    },
  });

  /**
   * A subscribe message's document checks, then its event source, started here so that nothing after this point is
   * missed: the execution arguments for `subscribe`, or the errors to answer with.
   */
  async function prepare(conn: Connection, who: Subscriber, id: string, payload: SubscribePayload): Promise<ExecutionArgs | readonly GraphQLError[]> {
    // The key again (cached 5 s, as before each event): a key revoked since connection_init starts nothing.
    try {
      const key = await core.services.keys.verify(who.secret);
      if (!key) {
        closeSocket(conn, CloseCode.Forbidden, 'the API key was revoked');
        return [new GraphQLError('the API key was revoked', { extensions: { code: 'UNAUTHENTICATED' } })];
      }
    } catch (err) {
      return [asGraphQLError(err)];
    }
    let document: DocumentNode;
    try {
      document = parse(payload.query, { maxTokens: MAX_TOKENS });
    } catch (err) {
      return [withCode(asGraphQLError(err), 'GRAPHQL_PARSE_FAILED')];
    }
    const invalid = validate(engine.schema, document, engine.validationRules('websocket'));
    if (invalid.length) return invalid.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
    const operation = getOperationAST(document, payload.operationName);
    if (!operation) {
      const message = payload.operationName ? `Unknown operation named "${payload.operationName}".` : 'Must provide operation name if query contains multiple operations.';
      return [withCode(new GraphQLError(message), 'BAD_REQUEST')];
    }
    const variables = payload.variables ?? {};
    const coerced = getVariableValues(engine.schema, operation.variableDefinitions ?? [], variables);
    if (coerced.errors) return coerced.errors.map((e) => withCode(e, 'BAD_USER_INPUT'));
    const tooComplex = engine.checkComplexity(engine.schema, document, operation, variables);
    if (tooComplex) return [tooComplex];
    conn.busyAt = Date.now();
    const requestId = `${conn.id}/${id}`;
    try {
      // The subscription's own context: its resolver's permission check and arguments, and what
      // its event source reads when it starts. Each event gets a fresh one (executeEvent).
      const args: ExecutionArgs = {
        schema: engine.schema, document, operationName: payload.operationName, variableValues: variables,
        contextValue: await engine.contextFor(who.key, who.purpose, requestId, conn.log),
      };
      const source = await createSourceEventStream(args);
      if (!isAsyncIterable(source)) return (source as ExecutionResult).errors ?? [new GraphQLError('the subscription could not start')];
      const op: SubscriptionOperation = { document, operationName: payload.operationName, variableValues: variables };
      prepared.set(args, { id, source: source[Symbol.asyncIterator](), op, conn, requestId });
      return args;
    } catch (err) {
      return [asGraphQLError(err)];
    }
  }

  /** Handles one client message (see `onMessage`): resolves once it is settled, never rejects. */
  async function handleMessage(conn: Connection, text: string, handle: (text: string) => Promise<void>): Promise<void> {
    let subscribe = false;
    try {
      subscribe = (JSON.parse(text) as { type?: unknown } | null)?.type === 'subscribe';
    } catch {
      // graphql-ws answers a message that is not JSON (4400)
    }
    const handled = handle(text).catch((err: unknown) => {
      conn.log.warn({ err: (err as Error).message }, 'graphql websocket: message handling failed');
      closeSocket(conn, CloseCode.InternalServerError, 'internal error');
    });
    if (!subscribe) return handled;
    // Its subscription runs on inside `handled`: wait until it is prepared (or refused), then for graphql-ws to have
    // taken it (the microtasks after onSubscribe), before the next message.
    await Promise.race([handled, new Promise<void>((r) => (conn.prepared = r))]);
    conn.prepared = null;
    await new Promise<void>((r) => setImmediate(r));
  }

  /** The results of one subscription: each event of its source executed for the subscriber (`executeEvent`). */
  function events(p: Prepared): AsyncGenerator<ExecutionResult> {
    const { conn } = p;
    // A socket that closed while this subscription was prepared: nothing starts (its source is stopped).
    if (conn.socket.readyState !== conn.socket.OPEN) {
      void p.source.return?.();
      return mapEvents<ExecutionResult>(EMPTY, async () => END, () => undefined);
    }
    conn.live++;
    liveTotal++;
    const result: AsyncGenerator<ExecutionResult> = mapEvents(p.source, async (payload, n) => {
      try {
        return await executeEvent(core, engine, conn.subscriber!, p.op, payload, `${p.requestId}/${n}`, conn.log);
      } catch (err) {
        if (!(err instanceof KeyRevokedError)) throw err;
        closeSocket(conn, CloseCode.Forbidden, 'the API key was revoked');
        return END;
      }
    }, () => {
      conn.live--;
      liveTotal--;
      if (conn.results.get(p.id) === result) conn.results.delete(p.id);
      conn.busyAt = Date.now();
      armIdle(conn);
    });
    // Messages are handled in order (handleMessage), so an id's earlier result has ended before it is subscribed again.
    conn.results.set(p.id, result);
    return result;
  }

  wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    const id = typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].length <= 128 ? req.headers['x-request-id'] : randomUUID();
    let resolveClosed!: () => void;
    const conn: Connection = {
      id, socket, headers: req.headers, address: addressOf(req), log: logger.child({ connectionId: id }), subscriber: null, live: 0,
      results: new Map(), starting: 0, inbox: Promise.resolve(), prepared: null, churn: { since: Date.now(), n: 0 }, busyAt: Date.now(), idleTimer: null, alive: true,
      closed: new Promise<void>((r) => (resolveClosed = r)),
    };
    open.add(conn);
    socket.on('pong', () => (conn.alive = true));
    socket.on('error', (err) => conn.log.warn({ err: err.message }, 'graphql websocket: socket error'));
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: async (data) => {
          if (socket.readyState !== socket.OPEN) return;
          if (socket.bufferedAmount + Buffer.byteLength(data) > api.subscriptionBufferBytes) {
            conn.log.warn({ buffered: socket.bufferedAmount, limit: api.subscriptionBufferBytes }, 'graphql websocket: the client reads too slowly; disconnecting it');
            closeSocket(conn, 1013, `over ${api.subscriptionBufferBytes} bytes waiting to be sent: the client reads too slowly`);
            setTimeout(() => socket.terminate(), SLOW_CLOSE_WAIT_MS).unref();
            return;
          }
          socket.send(data);
        },
        close: (code, text) => closeSocket(conn, code ?? 1000, text ?? ""),
        // The client's messages are handled in the order they came, each once it is settled: a subscribe once it is
        // prepared (its subscription then runs on), any other once handled. graphql-ws alone would start handling a
        // `complete` and a new `subscribe` of the same id while the first subscribe of that id is still prepared, and
        // then track only one of the two subscriptions it starts: the other would run on, untracked, after the socket
        // closed. In order, a client may also send its subscribe right after connection_init.
        onMessage: (cb) => {
          socket.on('message', (data) => {
            const text = String(data);
            conn.inbox = conn.inbox.then(() => handleMessage(conn, text, cb));
          });
        },
      },
      conn,
    );
    socket.once('close', (code, why) => {
      open.delete(conn);
      conn.log.info({ code, subscriptions: conn.live }, 'graphql websocket closed');
      closed(code, String(why))
        .catch((err: unknown) => conn.log.warn({ err: (err as Error).message }, 'graphql websocket: cleanup failed'))
        .finally(resolveClosed);
    });
  });

  const keepalive = setInterval(() => {
    for (const conn of open) {
      if (!conn.alive) {
        conn.socket.terminate();
        continue;
      }
      conn.alive = false;
      conn.socket.ping();
    }
  }, KEEPALIVE_MS);
  keepalive.unref();

  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (path !== SUBSCRIPTIONS_PATH) return refuse(socket, 404, 'NOT_FOUND', `WebSocket upgrades are served at ${SUBSCRIPTIONS_PATH} only`);
    if (closing) return refuse(socket, 503, 'UNAVAILABLE', 'the server is shutting down: connect again', { 'Retry-After': '1' });
    const wait = failures.blockedFor(addressOf(req));
    if (wait > 0) {
      return refuse(socket, 429, 'RATE_LIMITED', `too many failed authentications from this address (limit ${api.authFailuresPerMinute} per minute); retry in ${wait} s with a valid key`, { 'Retry-After': String(wait) });
    }
    const address = addressOf(req);
    let waiting = 0;
    for (const c of open) if (!c.subscriber && c.address === address) waiting++;
    if (waiting >= UNAUTHENTICATED_PER_ADDRESS) {
      return refuse(socket, 429, 'RATE_LIMITED', `this address holds ${waiting} WebSocket connections that have not sent connection_init; authenticate them first`, { 'Retry-After': '10' });
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  return {
    get connections() {
      return open.size;
    },
    get subscriptions() {
      return liveTotal;
    },
    async close() {
      closing = true;
      clearInterval(keepalive);
      const all = [...open];
      for (const conn of all) closeSocket(conn, 1001, 'the server is shutting down');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(all.map((c) => c.closed)), new Promise<void>((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
      clearTimeout(timer);
      for (const conn of open) conn.socket.terminate();
      await Promise.all([...all.map((c) => c.closed)]);
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

/** An event source with no events. */
const EMPTY: AsyncIterator<unknown> = { next: async () => ({ value: undefined, done: true }) };

/** Ends every live result of a connection (its socket closed): each stops its event source. */
function endAll(conn: Connection): void {
  const all = [...conn.results.values()];
  conn.results.clear();
  for (const r of all) void r.return(undefined);
}

/** An error of a stage, with that stage's code unless it has one. */
function withCode(e: GraphQLError, code: ErrorStage): GraphQLError {
  return e.extensions?.code ? e : new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, originalError: e.originalError, extensions: { ...e.extensions, code } });
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}
