import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { CiRun } from '../plan/ci';
import type { TagRule } from '../plan/tag-rule';
import type {
  DeployInput,
  DeployPhase as Phase,
  DeployPlan,
  DeployStatus,
  QueueNotice,
  ValidatedImage,
  Verdict,
} from '../contract/deploy';
import { DeployPath, DeployPhase, ImageTag } from '../contract/search-attributes';
import { targetLabel } from '../contract/target';
import { innermostMessage } from './errors';
import { deployPhaseChanged } from './metrics';

/**
 * The deploy's visible state, kept in one place: the `status` query's answer, the search
 * attributes the Web UI filters on, and the current-details text it shows. JSON-plain.
 */
export class DeployProgress {
  readonly status: DeployStatus;
  private repoUrl?: string;
  /** Environment and commit are set by the starter; the rest once the plan says the namespace has them. */
  private searchable = false;
  private readonly label: string;
  private readonly target: DeployInput['target'];
  /** The environment decided how this deploy ended, and counted it (see metrics.ts). */
  private decidedByEnvironment = false;

  constructor(input: Pick<DeployInput, 'repository' | 'commit' | 'target' | 'searchAttributes'>) {
    this.searchable = input.searchAttributes ?? false;
    this.target = input.target;
    this.label = targetLabel(input.target);
    const now = new Date().toISOString();
    const pr = input.target.kind === 'preview' ? { pr: input.target.pr } : {};
    this.status = {
      phase: 'detecting',
      repository: input.repository,
      target: input.target,
      commit: input.commit,
      ...pr,
      digests: {},
      startedAt: now,
      updatedAt: now,
      phases: { detecting: now },
    };
    this.publish();
  }

  enter(phase: Phase): DeployStatus {
    const at = new Date();
    const { phase: from, phases, startedAt } = this.status;
    // Step times, the CI wait, an outcome the environment did not count: metrics are no workflow commands.
    deployPhaseChanged({
      target: this.target,
      from,
      fromSince: phases[from] ?? startedAt,
      to: phase,
      now: at,
      counted: this.decidedByEnvironment,
    });
    const now = at.toISOString();
    Object.assign(this.status, { phase, updatedAt: now, phases: { ...this.status.phases, [phase]: now } });
    this.upsert([{ key: DeployPhase, value: phase }]);
    this.publish();
    return this.status;
  }

  planned(plan: DeployPlan): void {
    Object.assign(this.status, { path: plan.path, reason: plan.reason });
    this.repoUrl = plan.repositoryUrl;
    this.searchable = plan.searchAttributes;
    this.upsert([{ key: DeployPath, value: plan.path }]);
    this.publish();
  }

  tagged(tag: string): void {
    this.status.tag = tag;
    this.upsert([{ key: ImageTag, value: tag }]);
  }

  /** A preview's head branch, known once the pull request was read. */
  branch(branch: string): void {
    this.status.branch = branch;
  }

  /** Which preview rule chose the tag, and why. */
  ruled(rule: TagRule, reason: string, tag?: string): void {
    Object.assign(this.status, { rule, ruleReason: reason });
    if (tag) this.tagged(tag);
    this.publish();
  }

  /** Ended without deploying for a reason that is no failure (a fork, a closed PR, nothing to deploy). */
  skipped(reason: string, note: string): DeployStatus {
    this.status.reason = reason;
    this.status.note = note;
    return this.enter('skipped');
  }

  ciSeen(run: CiRun): void {
    const changed = this.status.ciRun?.id !== run.id || this.status.ciRun?.conclusion !== run.conclusion;
    this.status.ciRun = { id: run.id, url: run.url, conclusion: run.conclusion };
    if (changed) this.publish();
  }

  /** The latest word on the deploy while its phase stays (a failed CI run waiting for a re-run). */
  noted(note: string): void {
    this.status.note = note;
    this.publish();
  }

  validated(images: ValidatedImage[]): void {
    this.status.digests = Object.fromEntries(images.map((image) => [image.name, image.digest]));
  }

  committed(overlayCommit: string | null): void {
    this.status.overlayCommit = overlayCommit;
    this.publish();
  }

  argo(message: string): void {
    if (this.status.argo === message) return;
    this.status.argo = message;
    this.publish();
  }

  /** The environment moved this deploy in its queue (queued, held, committing, syncing). */
  notice(notice: QueueNotice): void {
    this.status.note = notice.note;
    if (notice.overlayCommit !== undefined) this.status.overlayCommit = notice.overlayCommit;
    if (notice.argo !== undefined) this.status.argo = notice.argo;
    // Argo CD's word while syncing arrives as further `syncing` notices: the phase's start stays.
    if (this.status.phase === notice.phase) this.publish();
    else this.enter(notice.phase);
  }

  /** How the deploy's turn ended: `environment` when it is the environment's verdict, not the deploy's own word. */
  finished(verdict: Verdict, by: 'environment' | 'deploy' = 'deploy'): void {
    this.decidedByEnvironment = by === 'environment';
    Object.assign(this.status, {
      overlayCommit: verdict.overlayCommit ?? this.status.overlayCommit,
      argo: verdict.argo ?? this.status.argo,
    });
    this.status.note = verdict.message;
    this.status.verdict = { outcome: verdict.outcome, reason: verdict.reason };
    this.publish();
  }

  failed(err: unknown): void {
    this.status.error = innermostMessage(err);
    this.enter('failed');
  }

  /** Cancelled (a closed pull request, a person): no failure, the status says why. */
  cancelled(why: string): void {
    this.status.note = why;
    this.enter('cancelled');
  }

  private upsert(pairs: SearchAttributeUpdatePair[]): void {
    if (this.searchable) upsertSearchAttributes(pairs);
  }

  /** Markdown for the Web UI's "current details". */
  private publish(): void {
    const s = this.status;
    const target = this.label;
    const lines = [
      `**${s.phase}**: deploy ${s.tag ?? s.commit.slice(0, 7)} to ${target}${s.reason ? ` (${s.reason})` : ''}`,
    ];
    if (s.rule) lines.push(`Tag rule: ${s.rule}: ${s.ruleReason}`);
    if (s.ciRun)
      lines.push(
        `CI run: [${s.ciRun.id}](${s.ciRun.url})${s.ciRun.conclusion ? ` ${s.ciRun.conclusion}` : ' in progress'}`,
      );
    if (s.overlayCommit)
      lines.push(`Overlay commit: [${s.overlayCommit.slice(0, 7)}](${this.repoUrl}/commit/${s.overlayCommit})`);
    if (this.status.note) lines.push(this.status.note);
    if (s.argo) lines.push(`Argo CD: ${s.argo}`);
    if (s.error) lines.push(`Error: ${s.error}`);
    setCurrentDetails(lines.join('\n\n'));
  }
}
