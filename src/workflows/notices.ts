import { getExternalWorkflowHandle } from '@temporalio/workflow';
import { queueNoticeSignal, type QueueNotice } from './environment-definitions';

/**
 * Sends queue notices to deploys with at most `limit` signals in flight: Temporal bounds a
 * workflow's pending outgoing signals, and a burst (a pause with thousands queued) must not hit
 * that bound. A deploy's newer notice replaces one not yet sent; a deploy gone is fine.
 */
export class NoticeSender {
  private readonly waiting = new Map<string, QueueNotice>();
  private inFlight = 0;

  constructor(private readonly limit: number) {}

  send(workflowId: string, notice: QueueNotice): void {
    this.waiting.delete(workflowId);
    this.waiting.set(workflowId, notice);
    this.pump();
  }

  /** Drops a notice not sent yet: the deploy's turn came, and a later "queued" would move it back. */
  forget(workflowId: string): void {
    this.waiting.delete(workflowId);
  }

  /** Nothing waiting or in flight: safe to continue as new. */
  get idle(): boolean {
    return this.inFlight === 0 && this.waiting.size === 0;
  }

  private pump(): void {
    for (const [workflowId, notice] of this.waiting) {
      if (this.inFlight >= this.limit) return;
      this.waiting.delete(workflowId);
      this.inFlight++;
      void getExternalWorkflowHandle(workflowId)
        .signal(queueNoticeSignal, notice)
        .catch(() => undefined)
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
