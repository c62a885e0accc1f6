import { getExternalWorkflowHandle, type SignalDefinition } from '@temporalio/workflow';

/**
 * Sends one kind of signal to deploys with at most `limit` in flight: Temporal bounds a workflow's
 * pending outgoing signals, and a burst (a pause with thousands queued, many deploys handing
 * themselves over again) must not hit that bound. A deploy's newer message replaces one not yet
 * sent; a deploy gone is fine.
 */
export class SignalSender<T> {
  private readonly waiting = new Map<string, T>();
  private inFlight = 0;

  constructor(
    private readonly signal: SignalDefinition<[T]>,
    private readonly limit: number,
  ) {}

  send(workflowId: string, message: T): void {
    this.waiting.delete(workflowId);
    this.waiting.set(workflowId, message);
    this.pump();
  }

  /** Drops a message not sent yet: the deploy's turn came, and a later "queued" would move it back. */
  forget(workflowId: string): void {
    this.waiting.delete(workflowId);
  }

  /** Nothing waiting or in flight: safe to continue as new. */
  get idle(): boolean {
    return this.inFlight === 0 && this.waiting.size === 0;
  }

  private pump(): void {
    for (const [workflowId, message] of this.waiting) {
      if (this.inFlight >= this.limit) return;
      this.waiting.delete(workflowId);
      this.inFlight++;
      void getExternalWorkflowHandle(workflowId)
        .signal(this.signal, message)
        .catch(() => undefined)
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
