/**
 * Polls `what` until `ok` holds, every `everyMs`, and throws with the last value after `ms`: for
 * effects that happen off the request path (deliveries, reconnects). A bound on waiting, never an
 * assertion about speed.
 */
export async function until<T>(what: () => T | Promise<T>, ok: (v: T) => boolean, ms = 20_000, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
