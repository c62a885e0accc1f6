import { isGrpcServiceError } from '@temporalio/client';
import type { Logger } from '@temporalio/common';

// gRPC codes meaning "Temporal could not be asked now": CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE.
const RETRY_LATER = new Set([1, 4, 8, 14]);
// Temporal is probed this often while it answers, four times as often while it does not.
const PROBE_INTERVAL_MS = 1_000;
// A health probe slower than this counts as no answer; getSystemInfo is served from the frontend's memory.
const PROBE_TIMEOUT_MS = 3_000;
/** The probe's own gRPC deadline, so a probe no one waits for any more does not hang on. */
export const PROBE_DEADLINE_MS = PROBE_TIMEOUT_MS;

/** Temporal was not asked, or stopped being waited for: known down, or no answer in time. */
export class TemporalUnavailable extends Error {
  override name = 'TemporalUnavailable';
}

/** Whether an error is Temporal's own "unavailable" (the frontend cannot be reached), not a slow or throttled call. */
export function isUnavailable(err: Error): boolean {
  return err instanceof TemporalUnavailable || (isGrpcServiceError(err) && err.code === 14);
}

/** The error (in the cause chain) that says Temporal could not be asked now, if that is what happened: answer 503. */
export function temporalUnreachable(err: unknown): Error | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof TemporalUnavailable || (isGrpcServiceError(e) && RETRY_LATER.has(e.code))) return e as Error;
  }
  return undefined;
}

/** Rejects with `onTimeout()` after `ms` unless `work` settles first; a late failure of `work` is dropped. */
export function bounded<T>(work: Promise<T>, ms: number, onTimeout: () => Error, signal?: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    const abort = () => (clearTimeout(timer), reject(signal!.reason));
    signal?.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => (clearTimeout(timer), signal?.removeEventListener('abort', abort)));
  });
}

/**
 * Whether Temporal answers, probed in the background: while it is known to be down a delivery gets
 * its 503 at once instead of waiting out retries (GitHub gives up after 10 s), and while it is down
 * it is probed four times as often, so deliveries are accepted again within a second of its return.
 * Every call a delivery makes counts as a probe too.
 */
export class TemporalHealth {
  private failure: Error | undefined;
  private since = Date.now();
  /** Start time of the observation the state comes from: an older probe finishing late does not overrule it. */
  private observedAt = 0;
  private readonly onDown = new Set<(err: Error) => void>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly probe: () => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  /** The reason Temporal is known to be unreachable, or undefined while it answers (or is not known not to). */
  get down(): Error | undefined {
    return this.failure;
  }

  start(): void {
    const loop = async () => {
      await this.check();
      if (!this.stopped)
        this.timer = setTimeout(loop, this.failure ? PROBE_INTERVAL_MS / 4 : PROBE_INTERVAL_MS).unref();
    };
    void loop();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One probe now; resolves to the state after it. */
  async check(): Promise<Error | undefined> {
    const startedAt = Date.now();
    try {
      await bounded(
        this.probe(),
        PROBE_TIMEOUT_MS,
        () => new TemporalUnavailable(`no answer to a health probe within ${PROBE_TIMEOUT_MS / 1000}s`),
      );
      this.observe(startedAt, undefined);
    } catch (err) {
      // Only "could not be asked" counts as down: an error Temporal answered with (permission denied,
      // unimplemented) is an answer, and it must also lift an earlier "down", or the relay would stay
      // closed for good once Temporal is back.
      this.observe(startedAt, temporalUnreachable(err));
    }
    return this.failure;
  }

  /** Records what a call that started at `startedAt` found: `failure` undefined means Temporal answered. */
  observe(startedAt: number, failure: Error | undefined): void {
    if (startedAt < this.observedAt) return;
    this.observedAt = startedAt;
    const wasDown = this.failure;
    this.failure = failure;
    if (failure && !wasDown) {
      this.since = Date.now();
      this.logger.warn(`Temporal unreachable (${failure.message}): deliveries get 503 until it answers`, {
        temporal: 'unreachable',
        error: failure.message,
      });
    } else if (!failure && wasDown) {
      const downSeconds = Number(((Date.now() - this.since) / 1000).toFixed(1));
      this.logger.info(`Temporal answers again after ${downSeconds.toFixed(1)}s: deliveries are accepted`, {
        temporal: 'ok',
        downSeconds,
      });
    }
    if (failure) for (const notify of this.onDown) notify(failure);
  }

  /** Calls `notify` when Temporal is found unreachable; returns the unsubscribe. */
  whenDown(notify: (err: Error) => void): () => void {
    this.onDown.add(notify);
    return () => this.onDown.delete(notify);
  }
}
