/** Limits that protect the GraphQL endpoint. */
export interface ApiLimitsConfig {
  /** Deepest selection allowed. */
  maxDepth: number;
  /** Highest estimated cost (each field 1, list fields times their `first`). */
  maxComplexity: number;
  /**
   * Requests per minute per valid API key (`RAPPORT_RATE_LIMIT`, default 6000); requests that present
   * no valid key share one such budget per client address. `/health` is never limited.
   */
  rateLimitPerMinute: number;
  /**
   * Failed authentications (no key, unknown or revoked key) per minute per client address
   * (`RAPPORT_AUTH_FAILURE_LIMIT`, default 60). Past it the address gets 429 with `Retry-After`,
   * without a database lookup, for the rest of the minute, except for keys already seen valid.
   */
  authFailuresPerMinute: number;
  /**
   * Most time a client may take to send a whole request, headers and body (ms;
   * `RAPPORT_REQUEST_TIMEOUT_MS`, default 30000). A slower one gets 408 and its connection is closed.
   */
  requestTimeoutMs: number;
  /**
   * On SIGTERM/SIGINT, how long requests in flight may take to finish before their connections are
   * closed (ms; `RAPPORT_SHUTDOWN_GRACE_MS`, default 10000). New connections are refused at once.
   */
  shutdownGraceMs: number;
  /**
   * Most subscriptions one GraphQL WebSocket connection may hold at once (default 20); one more is
   * answered with an error message, the connection stays open.
   */
  subscriptionsPerConnection: number;
  /**
   * Most GraphQL WebSocket connections one API key may hold open at once, per server process
   * (default 50); one more is closed with code 4429.
   */
  subscriptionConnectionsPerKey: number;
  /**
   * How long a GraphQL WebSocket client has after the upgrade to send `connection_init` with a
   * valid key (ms, default 10000); a slower one is closed with code 4408.
   */
  subscriptionInitTimeoutMs: number;
  /**
   * How long a GraphQL WebSocket connection may stay open with no subscription (ms, default
   * 300000; 0: no limit); an idle one is closed with code 1000.
   */
  subscriptionIdleTimeoutMs: number;
  /**
   * Most bytes waiting to be sent on one GraphQL WebSocket connection (default 1 MiB): a client
   * that reads more slowly than its subscriptions produce is disconnected, not buffered for.
   */
  subscriptionBufferBytes: number;
}
