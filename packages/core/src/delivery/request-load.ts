/** How often the busy time is sampled, in ms, and how many samples make the window (half a second, {@link RequestLoad.busyShare}). */
const SAMPLE_MS = 50;
const WINDOW_SAMPLES = 10;
const WINDOW_MS = SAMPLE_MS * WINDOW_SAMPLES;

/**
 * How busy this process's request path is: the share of the last half second during which at least one request was in
 * flight. The HTTP server marks each request it answers ({@link begin}); a program embedding Rapport marks its own.
 * Plugins' deliveries step back while the share is {@link SATURATED} or more and they are behind (docs/plugins.md,
 * "When requests come first"): a burst of ingestion is answered at the rate it would be without them, and they catch up
 * after it.
 */
export class RequestLoad {
  /** The busy share from which the request path counts as saturated. */
  static readonly SATURATED = 0.9;
  private inFlight = 0;
  /** Busy ms before `openedAt` (closed spans), since this object was made. */
  private closedMs = 0;
  /** When the in-flight count last went from 0 to 1 (while it is above 0). */
  private openedAt = 0;
  /** [time, busy ms until then], one every {@link SAMPLE_MS} while requests come (two windows of them), the newest last. */
  private readonly samples: Array<[number, number]> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Marks a request in flight; call the function it returns once, when the request is answered or abandoned. */
  begin(): () => void {
    if (this.inFlight++ === 0) this.openedAt = this.now();
    this.sampling();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.inFlight === 0) this.closedMs += this.now() - this.openedAt;
    };
  }

  /** Requests in flight now. */
  get active(): number {
    return this.inFlight;
  }

  /** The share (0 to 1) of about the last half second during which a request was in flight. */
  busyShare(): number {
    const t = this.now();
    // From the newest sample a window or more back (a late timer only makes the span longer; samples from before an
    // idle spell count it as idle). Less than a window of history is no evidence: 0, so a first request is not judged
    // on the few milliseconds it has lasted.
    const from = this.samples.findLast(([at]) => t - at >= WINDOW_MS);
    if (!from) return 0;
    return Math.min(1, (this.busyUntil(t) - from[1]) / (t - from[0]));
  }

  /** True while requests were in flight at least {@link SATURATED} of the last half second. */
  saturated(): boolean {
    return this.busyShare() >= RequestLoad.SATURATED;
  }

  /** Stops sampling (the process is closing). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private busyUntil(t: number): number {
    return this.closedMs + (this.inFlight > 0 ? t - this.openedAt : 0);
  }

  private sampling(): void {
    if (this.timer) return;
    this.sample();
    this.timer = setInterval(() => {
      this.sample();
      // Idle for a whole window: stop until the next request (a new window starts from it).
      const last = this.samples.at(-1)!;
      const windowBack = this.samples.at(-1 - WINDOW_SAMPLES);
      if (this.inFlight === 0 && windowBack && last[1] === windowBack[1]) this.close();
    }, SAMPLE_MS);
    this.timer.unref();
  }

  private sample(): void {
    const t = this.now();
    this.samples.push([t, this.busyUntil(t)]);
    if (this.samples.length > 2 * WINDOW_SAMPLES + 1) this.samples.shift();
  }
}
