import {
  CancellationScope,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  patched,
  startChild,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { reportsAnything, type ReportEvent, type ReportSettings, type ReportStage } from '../plan/report';
import { reportEventSignal, type ReportInput, type ReportSubject } from '../contract/report';
import { reportWorkflowId } from '../contract/ids';
import { targetLabel } from '../contract/target';

/** Histories recorded before reporting existed start no reporter; everything since may (see README, "Versioning"). */
export const REPORT_PATCH = 'gitops-deployer-report';

/**
 * The deploy's (or environment's) side of its reporter: starts it as an abandoned child with the
 * first event, then signals each later event, in order, without holding up the caller. Nothing
 * here fails the caller: a reporter that cannot be started or told is a report lost, not a deploy.
 */
export class ReportLink {
  private chain: Promise<void> = Promise.resolve();
  private workflowId?: string;
  private last?: ReportStage;

  private constructor(private readonly settings: ReportSettings) {}

  /** A link when the target reports anything; nothing is started, and no patch marker recorded, otherwise. */
  static open(
    settings: ReportSettings | undefined,
    subject: ReportSubject,
    first: ReportEvent,
  ): ReportLink | undefined {
    if (!reportsAnything(settings) || !patched(REPORT_PATCH)) return undefined;
    const link = new ReportLink(settings);
    link.start(subject, first);
    return link;
  }

  private start(subject: ReportSubject, first: ReportEvent): void {
    const workflowId = reportWorkflowId(subject.workflowId, subject.link.runId);
    this.workflowId = workflowId;
    this.last = first.stage;
    const input: ReportInput = { subject, settings: this.settings, events: [first] };
    this.chain = CancellationScope.nonCancellable(async () => {
      try {
        // By type name, like the deploys the environment starts.
        const child = await startChild('report', {
          workflowId,
          args: [input],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          staticSummary: `report ${subject.kind} ${subject.commit.slice(0, 7)} to ${targetLabel(subject.target)} on GitHub and in chat`,
        });
        void child.result().catch(() => undefined);
      } catch {
        // Already reported (a reset of the caller), or not startable: the caller goes on either way.
      }
    });
  }

  /** Tells the reporter the next event, once per stage in a row (Argo CD's word while syncing is no new stage). */
  send(event: ReportEvent): void {
    const workflowId = this.workflowId;
    if (!workflowId || event.stage === this.last) return;
    this.last = event.stage;
    this.chain = this.chain.then(() =>
      CancellationScope.nonCancellable(() =>
        getExternalWorkflowHandle(workflowId)
          .signal(reportEventSignal, event)
          .catch(() => undefined),
      ),
    );
  }

  /** Every event handed over: awaited before the caller's workflow ends. */
  flushed(): Promise<void> {
    return CancellationScope.nonCancellable(() => this.chain);
  }
}
