import { RapportError } from '@rapport/core';

/** What a subscription's source pushes into its stream (see {@link subscriptionStream}). */
export interface SubscriptionSink<T> {
  /** Queues items for the subscriber, in order. Ignored once the stream has ended. */
  push(...items: T[]): void;
  /** Ends the stream with an error (the subscriber gets it as the subscription's error). */
  fail(error: Error): void;
}

/** Options of {@link subscriptionStream}. */
export interface SubscriptionStreamOptions {
  /**
   * Most items waiting for the subscriber (default 1,000). One more ends the subscription with a
   * `RATE_LIMITED` error (rule `maxBuffered`) instead of holding more in memory.
   */
  maxBuffered?: number;
}

/** Default of {@link SubscriptionStreamOptions.maxBuffered}. */
export const DEFAULT_MAX_BUFFERED = 1_000;

/**
 * The event source of a `@Subscription(() => T, { subscribe })` resolver: a bounded stream fed
 * by a push source, such as a plugin's listener of live changes.
 *
 * `start` runs at once (when the client subscribes, so nothing that happens after the
 * subscription is accepted is missed) and returns the function that stops the source: it is
 * called once, when the subscription ends for any reason (the client completes it, the
 * connection closes, the server shuts down, the source fails, or the subscriber falls more than
 * `maxBuffered` items behind). Each item becomes the root value of one execution of the
 * subscription's selection, with a fresh request context, so the field guard decides every field
 * of every item for the subscriber as it does for a query.
 *
 * ```ts
 * @Authorized('loyalty:read')
 * @Subscription(() => TierChange, {
 *   subscribe: ({ context }) => subscriptionStream<TierChange>((sink) => tiers.onChange((changes) => sink.push(...changes))),
 * })
 * tierChanged(@Root() change: TierChange): TierChange { return change; }
 * ```
 */
export function subscriptionStream<T>(start: (sink: SubscriptionSink<T>) => () => void, options: SubscriptionStreamOptions = {}): AsyncGenerator<T, void, undefined> {
  const max = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`subscriptionStream: maxBuffered must be a positive integer, got ${max}`);
  const queue: T[] = [];
  let waiting: { resolve: (r: IteratorResult<T, void>) => void; reject: (e: unknown) => void } | null = null;
  let failure: Error | null = null;
  let ended = false;
  let stop: (() => void) | null = null;

  const end = () => {
    if (ended) return;
    ended = true;
    queue.length = 0;
    const s = stop;
    stop = null;
    try {
      s?.();
    } catch {
      // the source's own cleanup failing must not keep the subscription open
    }
  };
  const settle = () => {
    if (!waiting) return;
    const w = waiting;
    if (queue.length > 0) {
      waiting = null;
      w.resolve({ value: queue.shift() as T, done: false });
    } else if (failure) {
      waiting = null;
      const f = failure;
      failure = null;
      w.reject(f);
    } else if (ended) {
      waiting = null;
      w.resolve({ value: undefined, done: true });
    }
  };
  const sink: SubscriptionSink<T> = {
    push(...items) {
      if (ended) return;
      queue.push(...items);
      if (queue.length > max) {
        sink.fail(new RapportError('RATE_LIMITED', `subscription: the subscriber fell more than ${max} items behind, so the subscription ended; read faster, or subscribe again`, 'subscription', 'maxBuffered'));
        return;
      }
      settle();
    },
    fail(error) {
      if (ended) return;
      end();
      failure = error;
      settle();
    },
  };
  stop = start(sink);
  if (ended) stop?.(); // the source failed while starting

  const stream: AsyncGenerator<T, void, undefined> = {
    next() {
      if (queue.length > 0) return Promise.resolve({ value: queue.shift() as T, done: false });
      if (failure) {
        const f = failure;
        failure = null;
        return Promise.reject(f);
      }
      if (ended) return Promise.resolve({ value: undefined, done: true });
      // One reader at a time (graphql-js and graphql-ws read in sequence).
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
    return() {
      end();
      settle();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error?: unknown) {
      end();
      settle();
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  } as AsyncGenerator<T, void, undefined>;
  return stream;
}
