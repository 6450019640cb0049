import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { keyFromRequest } from '../http/api-key.auth';
import { PURPOSE_HEADER } from './request-purpose';

/**
 * What a WebSocket client presents in `connection_init`'s payload (graphql-ws `connectionParams`),
 * with the upgrade request's headers as a fallback: the key as `authorization` (`Bearer <key>` or
 * Basic, as the HTTP header) or `x-api-key`, and the purpose as `x-rapport-purpose`. Names are
 * matched without regard to case. Browsers cannot set headers on a WebSocket, hence the payload.
 */
export function credentialsOf(params: Readonly<Record<string, unknown>> | undefined, headers: IncomingHttpHeaders): { secret: string | null; purpose: unknown } {
  const lower: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params ?? {})) lower[k.toLowerCase()] = v;
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const fromParams = keyFromRequest({ headers: { authorization: text(lower.authorization), 'x-api-key': text(lower['x-api-key']) } } as unknown as FastifyRequest);
  const secret = fromParams ?? keyFromRequest({ headers } as FastifyRequest);
  const purpose = PURPOSE_HEADER in lower ? lower[PURPOSE_HEADER] : headers[PURPOSE_HEADER];
  return { secret, purpose };
}

/**
 * Failed WebSocket authentications per client address, in one-minute windows (`api.authFailuresPerMinute`,
 * as for HTTP): past the limit, upgrades from the address are refused with 429 until the window ends,
 * before any key lookup. Bounded: the oldest addresses are forgotten past 10,000.
 */
export class AuthFailures {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  constructor(private readonly perMinute: number, private readonly now: () => number = Date.now) {}

  /** Seconds until the address may try again, or 0 when it may now. */
  blockedFor(address: string): number {
    const w = this.windows.get(address);
    if (!w) return 0;
    const left = w.resetAt - this.now();
    if (left <= 0) {
      this.windows.delete(address);
      return 0;
    }
    return w.count >= this.perMinute ? Math.ceil(left / 1000) : 0;
  }

  /** Counts a failure of the address. */
  add(address: string): void {
    const now = this.now();
    let w = this.windows.get(address);
    if (!w || w.resetAt <= now) {
      this.windows.delete(address);
      this.windows.set(address, (w = { count: 0, resetAt: now + 60_000 }));
      if (this.windows.size > 10_000) this.windows.delete(this.windows.keys().next().value!);
    }
    w.count++;
  }
}
