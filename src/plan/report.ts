import type { TagRule } from './tag-rule';

/**
 * Reporting a deploy where developers look (GitHub Deployments, the preview comment, chat): the
 * facts a reporter receives and the pure decisions over them. The reporter workflow
 * (src/workflows/report.ts) gathers the events and carries out what these functions answer.
 */

/** Where a deploy (or a rollback, or a preview's close) stands, as the deploy or the environment tells its reporter. */
export type ReportStage =
  /** Known (detected, tag chosen): waiting for CI. */
  | 'waiting-for-ci'
  /** Waiting for its turn at the overlay (images validated). */
  | 'queued'
  /** Waiting because the target is held (a rollback's hold) or paused. */
  | 'held'
  /** The overlay is being changed. */
  | 'committing'
  /** Committed; Argo CD is syncing. */
  | 'syncing'
  | 'succeeded'
  | 'failed'
  /** A newer commit (or push) took its place. */
  | 'superseded'
  /** The pull request closed or a person cancelled the deploy. */
  | 'cancelled'
  /** A rollback committed and Argo CD reports it healthy. */
  | 'rolled-back'
  /** A preview's pull request closed: the preview is gone. */
  | 'removed';

export const FINAL_STAGES: readonly ReportStage[] = [
  'succeeded',
  'failed',
  'superseded',
  'cancelled',
  'rolled-back',
  'removed',
];

export function isFinal(stage: ReportStage): boolean {
  return FINAL_STAGES.includes(stage);
}

/** One thing that happened to the subject, JSON-plain (it travels in a signal). */
export interface ReportEvent {
  stage: ReportStage;
  /** When it happened (workflow time, ISO). */
  at: string;
  /** Why: the failure's reason, what superseded it, what holds the target. */
  message?: string;
  tag?: string;
  rule?: TagRule;
  ruleReason?: string;
  ciRun?: { id: number; url: string };
  overlayCommit?: string | null;
  /** On a success (or a close): the deploy or rollback whose Deployment is replaced, to be set `inactive`. */
  replaces?: { workflowId: string; commit: string };
}

/** The outcomes a notification sink may subscribe to. */
export const NOTIFY_OUTCOMES = ['succeeded', 'failed', 'rolled-back', 'held', 'superseded'] as const;
export type NotifyOutcome = (typeof NOTIFY_OUTCOMES)[number];
/** What a sink gets when its `on` is not given: everything but superseded (noisy in a busy repository). */
export const DEFAULT_NOTIFY_OUTCOMES: NotifyOutcome[] = ['succeeded', 'failed', 'rolled-back', 'held'];

export type NotificationFormat = 'slack' | 'cloudevents';

/** What the worker's config asks to report for one target (names only: sink URLs are secrets in its environment). */
export interface ReportSettings {
  /** GitHub Deployments for this target. */
  deployments?: {
    /** GitHub's environment name: `production`, `pr-12`. */
    environment: string;
    /** environment_url on success. */
    url?: string;
    /** A preview's environment goes away with its pull request. */
    transient: boolean;
    production: boolean;
  };
  /** A preview: the one comment on its pull request. */
  comment?: { pr: number; url?: string };
  /** The sinks that want this target's outcomes. */
  notify: Array<{ sink: string; on: NotifyOutcome[] }>;
  /** Temporal Web UI for links (log_url, the comment, chat): its base URL and the namespace. */
  ui?: { url: string; namespace: string };
  /** The repository's web page, for commit links. */
  repositoryUrl: string;
}

/** Whether anything is to be reported at all: off, a deploy starts no reporter and makes no call. */
export function reportsAnything(settings: ReportSettings | undefined): settings is ReportSettings {
  return !!settings && (!!settings.deployments || !!settings.comment || settings.notify.length > 0);
}

export type DeploymentState = 'queued' | 'in_progress' | 'success' | 'failure' | 'inactive';

/** GitHub truncates nothing: it refuses a description over 140 characters. */
export const DESCRIPTION_LIMIT = 140;

export function description(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= DESCRIPTION_LIMIT ? flat : `${flat.slice(0, DESCRIPTION_LIMIT - 1)}…`;
}

const DEPLOYMENT_STATE: Record<ReportStage, DeploymentState | undefined> = {
  'waiting-for-ci': 'queued',
  queued: 'queued',
  held: 'queued',
  committing: 'in_progress',
  syncing: 'in_progress',
  succeeded: 'success',
  'rolled-back': 'success',
  failed: 'failure',
  superseded: 'inactive',
  cancelled: 'inactive',
  removed: undefined,
};

/**
 * The Deployment status an event calls for, given the states already posted: one status per
 * change of state (queued → in_progress → a final one), never a repeat, nothing after a final one.
 */
export function deploymentStatusFor(
  event: ReportEvent,
  posted: readonly DeploymentState[],
): { state: DeploymentState; description: string } | undefined {
  const state = DEPLOYMENT_STATE[event.stage];
  if (!state) return undefined;
  const last = posted.at(-1);
  if (last && ['success', 'failure', 'inactive'].includes(last)) return undefined;
  if (state === last) return undefined;
  // A deploy that was never in progress is not reported queued again on its way out.
  if (state === 'queued' && posted.includes('in_progress')) return undefined;
  return { state, description: description(deploymentText(event)) };
}

function deploymentText(event: ReportEvent): string {
  const tag = event.tag ?? 'the change';
  switch (event.stage) {
    case 'waiting-for-ci':
      return `waiting for CI to build ${tag}`;
    case 'queued':
      return `${tag}: images validated, waiting for its turn at the overlay`;
    case 'held':
      return event.message ?? `${tag}: held`;
    case 'committing':
      return `committing ${tag} to the overlay`;
    case 'syncing':
      return `${tag} committed: waiting for Argo CD`;
    case 'succeeded':
      return `${tag} is synced and healthy`;
    case 'rolled-back':
      return event.message ?? `rolled back to ${tag}`;
    default:
      return event.message ?? `${tag}: ${event.stage}`;
  }
}

/** The notification an event is, when it is one of the outcomes sinks subscribe to. */
export function notifyOutcomeFor(event: ReportEvent): NotifyOutcome | undefined {
  switch (event.stage) {
    case 'succeeded':
    case 'failed':
    case 'rolled-back':
    case 'held':
    case 'superseded':
      return event.stage;
    default:
      return undefined;
  }
}

/** The sinks to deliver an event to. */
export function sinksFor(event: ReportEvent, settings: ReportSettings): string[] {
  const outcome = notifyOutcomeFor(event);
  if (!outcome) return [];
  return settings.notify.filter((sink) => sink.on.includes(outcome)).map((sink) => sink.sink);
}

/** The preview comment's states, as the pull request's readers see them. */
export type CommentState = 'waiting-for-ci' | 'deploying' | 'syncing' | 'ready' | 'failed' | 'removed';

const COMMENT_STATE: Record<ReportStage, CommentState | undefined> = {
  'waiting-for-ci': 'waiting-for-ci',
  queued: 'deploying',
  held: 'deploying',
  committing: 'deploying',
  syncing: 'syncing',
  succeeded: 'ready',
  'rolled-back': 'ready',
  failed: 'failed',
  // The newer push's deploy owns the comment; a cancelled one is followed by a close (`removed`).
  superseded: undefined,
  cancelled: undefined,
  removed: 'removed',
};

/** The comment state an event moves to, when it changes what the comment says. */
export function commentStateFor(event: ReportEvent, shown: CommentState | undefined): CommentState | undefined {
  const state = COMMENT_STATE[event.stage];
  if (!state || (state === shown && state !== 'failed')) return undefined;
  return state;
}

/** The config's reporting sections, as the worker reads them (src/activities/index.ts). */
export interface ReportConfig {
  repositoryUrl: string;
  ui?: { url: string; namespace: string };
  /** `environment.*`: GitHub's environment for production is the environment's name. */
  production: { name: string; deployments: boolean; url?: string };
  /** `preview.*`, when previews are configured; `url` is a template with `{number}`. */
  preview?: { deployments: boolean; url?: string; comment: boolean };
  sinks: Array<{ name: string; environments: Array<'production' | 'preview'>; on: NotifyOutcome[] }>;
}

/** What to report for one target: production's Deployments, or a preview's `pr-<n>` and its comment; the sinks that want it. */
export function reportSettingsFor(
  config: ReportConfig,
  target: { kind: 'production'; name: string } | { kind: 'preview'; pr: number },
): ReportSettings {
  const common = {
    repositoryUrl: config.repositoryUrl,
    ...(config.ui ? { ui: config.ui } : {}),
    notify: config.sinks
      .filter((sink) => sink.environments.includes(target.kind))
      .map((sink) => ({ sink: sink.name, on: sink.on })),
  };
  if (target.kind === 'production') {
    const { deployments, url } = config.production;
    return {
      ...common,
      ...(deployments
        ? { deployments: { environment: target.name, ...(url ? { url } : {}), transient: false, production: true } }
        : {}),
    };
  }
  const preview = config.preview;
  const url = preview?.url?.replaceAll('{number}', String(target.pr));
  return {
    ...common,
    ...(preview?.deployments
      ? { deployments: { environment: `pr-${target.pr}`, ...(url ? { url } : {}), transient: true, production: false } }
      : {}),
    ...(preview?.comment ? { comment: { pr: target.pr, ...(url ? { url } : {}) } } : {}),
  };
}

/** The Temporal Web UI page of a workflow run. */
export function workflowUrl(ui: ReportSettings['ui'], link: { workflowId: string; runId: string }): string | undefined {
  if (!ui) return undefined;
  const base = ui.url.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(ui.namespace)}/workflows/${encodeURIComponent(link.workflowId)}/${encodeURIComponent(link.runId)}/history`;
}
