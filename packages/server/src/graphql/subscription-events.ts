import type { ApiKeyRecord, Logger, RapportCore } from '@rapport/core/internal';
import { execute, GraphQLError, type DocumentNode, type ExecutionResult } from 'graphql';
import type { GraphQLEngine } from './graphql-engine';
import { asGraphQLError } from './subscription-errors';

/** Who a WebSocket connection subscribes for: the key it authenticated with, and the purpose it acts for. */
export interface Subscriber {
  key: ApiKeyRecord;
  /** The key as presented, verified again (cached 5 s) before each event: a revoked key stops receiving. */
  secret: string;
  purpose: string | null;
}

/** One subscription operation, parsed and validated. */
export interface SubscriptionOperation {
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
}

/** The key was revoked while the connection was open. */
export class KeyRevokedError extends Error {
  constructor() {
    super('the API key was revoked');
    this.name = 'KeyRevokedError';
  }
}

/**
 * Executes the subscription's selection for one event, as a query is executed over HTTP: with a
 * request context of its own (fresh loaders, the subscriber's roles and purpose, the current
 * policies and the person's current consent), so the field guard decides every field of every
 * event; the guard's errors are added to the result, the resolvers' warnings put in
 * `extensions.warnings`, and the event's reads of personal data written to the audit log before
 * the result is returned (a failed write fails the event: no read is sent unaudited). A database
 * fault becomes the event's error, never an exception.
 *
 * @throws KeyRevokedError when the subscriber's key is no longer valid.
 */
export async function executeEvent(
  core: RapportCore, engine: GraphQLEngine, who: Subscriber, op: SubscriptionOperation, payload: unknown, requestId: string, logger: Logger,
): Promise<ExecutionResult> {
  let key: ApiKeyRecord | null;
  try {
    key = await core.services.keys.verify(who.secret);
  } catch (err) {
    return { errors: [asGraphQLError(err)] };
  }
  if (!key) throw new KeyRevokedError();
  try {
    const ctx = await engine.contextFor(key, who.purpose, requestId, logger);
    const result = await execute({
      schema: engine.schema, document: op.document, rootValue: payload, contextValue: ctx,
      variableValues: op.variableValues ?? undefined, operationName: op.operationName ?? undefined,
    });
    const errors: GraphQLError[] = [...(result.errors ?? []), ...(ctx.guard?.errors ?? [])];
    const entries = ctx.guard?.auditEntries() ?? [];
    await core.services.readAudit.record(
      entries.map((e) => ({ keyId: key.id, actor: key.name, profileId: e.profileId, fields: e.fields, purpose: ctx.purpose, requestId })),
    );
    return {
      data: result.data,
      ...(errors.length ? { errors } : {}),
      ...(ctx.warnings.length ? { extensions: { warnings: [...ctx.warnings] } } : {}),
    };
  } catch (err) {
    return { errors: [asGraphQLError(err)] };
  }
}

/** What a step of {@link mapEvents} returns to end the subscription quietly (its connection is closing). */
export const END: unique symbol = Symbol('end');

/**
 * The results of a subscription: `run` applied to each event of `source`, in order; `onEnd` called once when it ends
 * (the source ended or failed, `run` returned {@link END}, or the consumer returned). Not an async generator: `return()`
 * must stop the source at once, even while it waits for an event (an async generator's `return` would wait for it).
 */
export function mapEvents<T>(source: AsyncIterator<unknown>, run: (payload: unknown, n: number) => Promise<T | typeof END>, onEnd: () => void): AsyncGenerator<T> {
  let n = 0;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    onEnd();
  };
  const stop = async () => {
    finish();
    try {
      await source.return?.();
    } catch {
      // the source's cleanup failing must not fail the close
    }
  };
  const it = {
    async next(): Promise<IteratorResult<T>> {
      if (done) return { value: undefined, done: true };
      let step: IteratorResult<unknown>;
      try {
        step = await source.next();
      } catch (err) {
        await stop();
        throw err;
      }
      if (step.done || done) {
        finish();
        return { value: undefined, done: true };
      }
      let value: T | typeof END;
      try {
        value = await run(step.value, ++n);
      } catch (err) {
        await stop();
        throw err;
      }
      if (value === END) {
        await stop();
        return { value: undefined, done: true };
      }
      return { value, done: false };
    },
    async return(): Promise<IteratorResult<T>> {
      await stop();
      return { value: undefined, done: true };
    },
    async throw(err: unknown): Promise<IteratorResult<T>> {
      await stop();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it as unknown as AsyncGenerator<T>;
}
