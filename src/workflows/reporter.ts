import { isCancellation, workflowInfo } from '@temporalio/workflow';
import type { NotificationEvent } from '../plan/notification';
import { previewCommentBody } from '../plan/preview-comment';
import {
  commentStateFor,
  deploymentStatusFor,
  description,
  isFinal,
  notifyOutcomeFor,
  sinksFor,
  workflowUrl,
  type CommentState,
  type DeploymentState,
  type NotifyOutcome,
  type ReportEvent,
} from '../plan/report';
import type { ReportInput, ReportResult } from '../contract/report';
import { targetLabel } from '../contract/target';
import { innermostMessage } from './errors';
import { reportSteps } from './steps';

/** What the events told so far, merged: a later event need not repeat the tag or the CI run. */
type Facts = Pick<ReportEvent, 'tag' | 'rule' | 'ruleReason' | 'ciRun' | 'overlayCommit' | 'message'>;

/**
 * One subject's reporting, in the shape of the safe-message-handlers sample: events arrive by
 * signal, the workflow function (report.ts) takes them one at a time. GitHub's writes go in order
 * (a Deployment's statuses, the comment); notifications are delivered beside them, each on its own
 * retries, so a sink that is down delays nothing else. Nothing here fails the reporter: what could
 * not be reported is a note in its result.
 */
export class Reporter {
  readonly result: ReportResult = { statuses: [], delivered: [], notes: [] };
  private readonly queue: ReportEvent[];
  private readonly posted: DeploymentState[] = [];
  private shown?: CommentState;
  private facts: Facts = {};
  private readonly notified = new Set<NotifyOutcome>();
  private readonly deliveries: Array<Promise<void>> = [];
  finished = false;

  constructor(private readonly input: ReportInput) {
    this.queue = [...input.events];
  }

  add(event: ReportEvent): void {
    if (!this.finished) this.queue.push(event);
  }

  get pending(): boolean {
    return this.queue.length > 0;
  }

  /** Reports the next event: its notifications start, then GitHub is told, in order. */
  async next(): Promise<void> {
    const event = this.queue.shift()!;
    this.facts = { ...this.facts, ...defined(event) };
    this.notify(event);
    await this.attempt('the GitHub Deployment', () => this.deployment(event));
    await this.attempt('the preview comment', () => this.comment(event));
    if (isFinal(event.stage)) this.finished = true;
  }

  /** Every notification delivered or given up (each is bounded by its own retries). */
  async delivered(): Promise<void> {
    await Promise.all(this.deliveries);
  }

  private get links() {
    const { subject, settings } = this.input;
    return {
      workflow: workflowUrl(settings.ui, subject.link),
      commit: `${settings.repositoryUrl}/commit/${subject.commit}`,
    };
  }

  private async deployment(event: ReportEvent): Promise<void> {
    const { subject, settings } = this.input;
    const target = settings.deployments;
    if (!target) return;
    const status =
      subject.kind === 'close' ? undefined : deploymentStatusFor({ ...event, tag: this.facts.tag }, this.posted);
    if (status) {
      const urls = {
        ...(this.links.workflow ? { logUrl: this.links.workflow } : {}),
        ...(status.state === 'success' && target.url ? { environmentUrl: target.url } : {}),
      };
      // Tried is done, posted or not: a status GitHub refused is not tried again by the next event of the same state.
      this.posted.push(status.state);
      if (this.result.deploymentId === undefined) {
        const opened = await reportSteps.openDeployment({
          commit: subject.commit,
          environment: target.environment,
          workflowId: subject.workflowId,
          ...(this.facts.tag ? { tag: this.facts.tag } : {}),
          kind: subject.kind === 'rollback' ? 'rollback' : 'deploy',
          description: this.deploymentDescription(),
          transient: target.transient,
          production: target.production,
          state: status.state,
          ...urls,
        });
        this.result.deploymentId = opened.deploymentId;
      } else {
        await reportSteps.setDeploymentStatus({
          deploymentId: this.result.deploymentId,
          state: status.state,
          description: status.description,
          ...urls,
        });
      }
      this.result.statuses.push(status.state);
    }
    // The change that ran before is no longer what the environment runs.
    const replaced = event.stage === 'succeeded' || event.stage === 'rolled-back' || event.stage === 'removed';
    if (replaced && event.replaces && event.replaces.workflowId !== subject.workflowId) {
      await reportSteps.retireDeployment({
        commit: event.replaces.commit,
        environment: target.environment,
        workflowId: event.replaces.workflowId,
        description: description(
          event.stage === 'removed'
            ? `${targetLabel(subject.target)} is gone: the pull request closed`
            : `replaced by ${this.facts.tag ?? subject.commit.slice(0, 7)} (${subject.commit.slice(0, 7)})`,
        ),
        ...(this.links.workflow ? { logUrl: this.links.workflow } : {}),
      });
    }
  }

  private deploymentDescription(): string {
    const { subject } = this.input;
    const tag = this.facts.tag ?? subject.commit.slice(0, 7);
    const who = subject.requestedBy ? ` by ${subject.requestedBy}` : '';
    return description(
      subject.kind === 'rollback'
        ? `rollback to ${tag}${who}${this.facts.message ? `: ${this.facts.message}` : ''}`
        : `deploy ${tag} to ${targetLabel(subject.target)}${who}`,
    );
  }

  private async comment(event: ReportEvent): Promise<void> {
    const { subject, settings } = this.input;
    if (!settings.comment) return;
    const state = commentStateFor(event, this.shown);
    if (!state) return;
    const written = await reportSteps.upsertPreviewComment({
      pr: settings.comment.pr,
      order: subject.order,
      body: previewCommentBody({
        pr: settings.comment.pr,
        order: subject.order,
        state,
        commit: subject.commit,
        ...defined({
          tag: this.facts.tag,
          rule: this.facts.rule,
          ruleReason: this.facts.ruleReason,
          url: settings.comment.url,
          ciRunUrl: this.facts.ciRun?.url,
          workflowUrl: this.links.workflow,
          message: state === 'failed' ? event.message : undefined,
        }),
        at: event.at,
        repositoryUrl: settings.repositoryUrl,
      }),
    });
    this.shown = state;
    if (written.commentId !== undefined) this.result.commentId = written.commentId;
  }

  /** Starts the deliveries an event calls for, once per outcome per sink. */
  private notify(event: ReportEvent): void {
    const outcome = notifyOutcomeFor(event);
    if (!outcome || this.notified.has(outcome)) return;
    this.notified.add(outcome);
    const sinks = sinksFor(event, this.input.settings);
    if (!sinks.length) return;
    const notification = this.notification(event, outcome);
    // The sink dedupes on this id: the same whichever attempt (or a reset of this reporter) delivers it.
    const id = `${workflowInfo().workflowId}/${outcome}`;
    for (const sink of sinks) {
      this.deliveries.push(
        this.attempt(`notification ${sink}`, async () => {
          await reportSteps.deliverNotification({ sink, id, event: notification });
          this.result.delivered.push(`${sink}:${outcome}`);
        }),
      );
    }
  }

  private notification(event: ReportEvent, outcome: NotifyOutcome): NotificationEvent {
    const { subject, settings } = this.input;
    const { target } = subject;
    const links = {
      commit: this.links.commit,
      ...defined({
        workflow: this.links.workflow,
        environment: settings.deployments?.url ?? settings.comment?.url,
        ci: this.facts.ciRun?.url,
      }),
    };
    return {
      outcome,
      repository: subject.repository,
      environment: target.kind === 'preview' ? `pr-${target.pr}` : target.name,
      ...(target.kind === 'preview' ? { pr: target.pr } : {}),
      targetLabel: targetLabel(target),
      kind: subject.kind === 'rollback' ? 'rollback' : 'deploy',
      commit: subject.commit,
      ...defined({ tag: this.facts.tag, requestedBy: subject.requestedBy }),
      message: event.message ?? `${outcome}: ${this.facts.tag ?? subject.commit.slice(0, 7)}`,
      at: event.at,
      links,
    };
  }

  private async attempt(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.result.notes.push(`${what} could not be reported: ${innermostMessage(err)}`);
    }
  }
}

/** The object without its undefined fields (activity inputs are checked strictly). */
function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
