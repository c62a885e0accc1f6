import type { Outcome, ProductionTarget } from '../plan/environment';
import { shaTag } from '../plan/tags';
import type { DeployListing, DeployView, StartedDeploy } from '../client/deploys';
import type { EnvironmentSnapshot } from '../client/environment';
import { span } from './span';
import type { WatchEvent } from './watch';

export { span };

/** Columns padded to their widest cell, two spaces apart; no trailing blanks. */
export function table(rows: string[][], headers?: string[]): string {
  const all = headers ? [headers, ...rows] : rows;
  const widths = all.reduce<number[]>((w, row) => row.map((cell, col) => Math.max(w[col] ?? 0, cell.length)), []);
  return all
    .map((row) =>
      row
        .map((cell, col) => cell.padEnd(widths[col]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `key  value` lines with the values aligned; multi-line values stay under their column. */
export function keyValues(pairs: Array<[string, string | undefined]>): string {
  const shown = pairs.filter((pair): pair is [string, string] => pair[1] !== undefined && pair[1] !== '');
  const width = Math.max(...shown.map(([key]) => key.length));
  return shown
    .map(([key, value]) => `${key.padEnd(width)}  ${value.split('\n').join(`\n${' '.repeat(width + 2)}`)}`)
    .join('\n');
}

/** Local wall-clock time of day: deploys are minutes long, the date adds noise. */
export function clock(iso: string): string {
  return new Date(iso).toTimeString().slice(0, 8);
}

const short = (commit: string | undefined | null) => commit?.slice(0, 7);
/** The workflow's execution status as a word, e.g. "timed out". */
const lower = (execution: string) => execution.toLowerCase().replace('_', ' ');

export function formatStarted(started: StartedDeploy, commit: string): string {
  if (started.started === undefined) return `${started.note}\nfollow it with: deployctl watch ${short(commit)}`;
  return started.started
    ? `started ${started.workflowId}\nfollow it with: deployctl watch ${short(commit)}`
    : `a deploy of ${short(commit)} is already running or succeeded: ${started.workflowId}\nsee it with: deployctl status ${short(commit)}`;
}

export function formatStatus({ workflowId, execution, status: s }: DeployView): string {
  const phaseTimes = Object.entries(s.phases).sort(([, a], [, b]) => a!.localeCompare(b!));
  const ci = s.ciRun && `${s.ciRun.id} ${s.ciRun.conclusion ?? 'in progress'}  ${s.ciRun.url}`;
  const digests = Object.keys(s.digests).length ? table(Object.entries(s.digests)) : undefined;
  return keyValues([
    [
      'deploy',
      `${s.repository}@${short(s.commit)} to ${s.pr ? `the preview of #${s.pr}${s.branch ? ` (${s.branch})` : ''}` : 'production'}`,
    ],
    ['workflow', `${workflowId} (${lower(execution)})`],
    ['phase', `${s.phase} since ${clock(s.phases[s.phase] ?? s.updatedAt)}`],
    ['path', s.path && `${s.path}${s.reason ? ` (${s.reason})` : ''}`],
    // The status query names the tag only once CI passed; while it waits, the tag follows from the commit.
    // A code deploy names its tag from the start; until CI passed the image may not exist yet.
    [
      'tag',
      s.phase === 'waiting-for-ci' && s.path === 'code' ? `${s.tag ?? shaTag(s.commit)} (once CI passes)` : s.tag,
    ],
    ['rule', s.rule && `${s.rule}: ${s.ruleReason}`],
    ['ci run', ci],
    ['overlay', s.overlayCommit === null ? 'already at the tag (no commit)' : short(s.overlayCommit)],
    ['digests', digests],
    ['argo cd', s.argo],
    ['note', s.note],
    ['error', s.error],
    ['timeline', phaseTimes.map(([phase, at]) => `${clock(at!)} ${phase}`).join('\n')],
  ]);
}

export function formatList(rows: DeployListing[], now = Date.now()): string {
  if (!rows.length) return 'no deploys match';
  return table(
    rows.map((row) => [
      row.pr ? `preview #${row.pr}` : (row.environment ?? '-'),
      short(row.commit) ?? '-',
      row.phase ?? '-',
      row.path ?? '-',
      row.tag ?? '-',
      lower(row.execution),
      span(now - Date.parse(row.startTime)),
    ]),
    ['ENV', 'COMMIT', 'PHASE', 'PATH', 'TAG', 'STATUS', 'AGE'],
  );
}

/** One line per watch event, `12:00:02  waiting-for-ci  for the CI run of abc1234`; undefined when it adds nothing. */
export function formatEvent(event: WatchEvent): string | undefined {
  const line = (label: string, text: string) => `${clock(event.at)}  ${label.padEnd(14)}  ${text}`.trimEnd();
  switch (event.event) {
    case 'phase':
      return line(event.phase, event.detail ?? '');
    case 'ci':
      return line('ci', `run ${event.run.id} ${event.run.conclusion ?? 'in progress'}  ${event.run.url}`);
    case 'overlay':
      return line(
        'overlay',
        event.commit ? `committed ${short(event.commit)}` : 'already at the tag, nothing to commit',
      );
    case 'argo':
      return line('argo cd', event.message);
    case 'error':
      return line('error', event.message);
    case 'notice':
      return line('note', event.message);
    case 'plan':
      return line('plan', `${event.path}${event.reason ? `: ${event.reason}` : ''}`);
    case 'end':
      // A final phase line already said how it ended; only a terminate, cancel or timeout needs saying.
      if (['succeeded', 'failed', 'skipped'].includes(event.phase) && ['COMPLETED', 'FAILED'].includes(event.execution))
        return undefined;
      return line('ended', `workflow ${lower(event.execution)}${event.error ? `: ${event.error}` : ''}`);
  }
}

/** Local date and time to the minute: environments live for months, the date matters. */
export function stamp(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const since = (at: string, by?: string) => `since ${stamp(at)}${by ? ` by ${by}` : ''}`;

/** `deployctl status --env`: what production runs, what is happening, what waits and why, what happened. */
export function formatEnvironment(
  { workflowId, execution, view: v }: EnvironmentSnapshot,
  outcomes = 10,
  requests = 5,
): string {
  const queue = v.queue.map((c) => [c.tag, short(c.commit)!, c.path, c.state, clock(c.readyAt), c.why ?? '']);
  const newest = <T>(items: T[], n: number) => items.slice(-n).reverse();
  const name = v.target.kind === 'production' ? v.target.name : `preview-${v.target.pr}`;
  return keyValues([
    ['environment', name],
    ['workflow', `${workflowId} (${lower(execution)})`],
    [
      'production',
      v.current
        ? `${v.current.tag} ${since(v.current.since, v.current.by)}`
        : 'unknown (no change since this workflow started)',
    ],
    [
      'now',
      v.applying &&
        `${v.applying.kind} ${v.applying.tag}${v.applying.commit ? ` (${short(v.applying.commit)})` : ''}: ${v.applying.phase} since ${clock(v.applying.since)}`,
    ],
    ['argo cd', v.applying?.argo],
    ['paused', v.paused && `${v.paused.reason} (${since(v.paused.since)})`],
    ['held', v.held && `${v.held.reason} (${since(v.held.since)})`],
    ['resume with', v.paused || v.held ? `deployctl resume --env ${name}` : undefined],
    ['rollbacks', v.pendingRollbacks.map((r) => `to ${r.to} by ${r.requestedBy}: ${r.reason}`).join('\n')],
    ['queue', queue.length ? table(queue, ['TAG', 'COMMIT', 'PATH', 'STATE', 'READY', 'WHY']) : 'empty'],
    ['outcomes', table(newest(v.outcomes, outcomes).map((o) => [stamp(o.at), o.kind, o.tag ?? '-', o.message]))],
    ['requests', table(newest(v.requests, requests).map((r) => [stamp(r.at), short(r.commit)!, r.by]))],
  ]);
}

/** `deployctl targets`: previous production tags, newest first. */
export function formatTargets(targets: ProductionTarget[]): string {
  if (!targets.length) return 'no production tags in the overlay history';
  return table(
    targets.map((t) => [
      t.tag,
      stamp(t.date),
      t.by,
      short(t.deployedCommit) ?? t.kind,
      t.imagesExist ? 'present' : 'missing',
    ]),
    ['TAG', 'DEPLOYED', 'BY', 'FROM', 'IMAGES'],
  );
}

/** A rollback's outcome; rolled back adds how to lift the hold. */
export function formatRollbackOutcome(outcome: Outcome, environment: string): string {
  const { kind, tag, message } = outcome;
  const text = `${clock(outcome.at)}  ${kind.padEnd(16)}  ${tag ? `${tag}: ` : ''}${message}`.trimEnd();
  return kind === 'rolled-back'
    ? `${text}\nproduction is held at ${tag}; deploys wait until: deployctl resume --env ${environment}`
    : text;
}

/** `deployctl status --pr`: the preview's tag and rule, the newest push, what is applied now, recent outcomes. */
export function formatPreview({ workflowId, execution, view }: EnvironmentSnapshot): string {
  const p = view.current;
  const pr = view.target.kind === 'preview' ? view.target.pr : undefined;
  return keyValues([
    [
      'preview',
      `${view.repository}#${pr}${view.closed ? ` (${view.closed.merged ? 'merged' : 'closed'} ${clock(view.closed.at)}: gone)` : ''}`,
    ],
    ['workflow', `${workflowId} (${lower(execution)})`],
    [
      'runs',
      p
        ? `${p.tag} (rule ${p.rule}, for ${short(p.commit)}, since ${clock(p.since)})`
        : 'nothing this workflow deployed',
    ],
    ['latest push', view.latest && `${short(view.latest.commit)}  ${view.latest.workflowId}`],
    ['now', view.applying && `${view.applying.phase} ${view.applying.tag} for ${short(view.applying.commit)}`],
    ['argo cd', view.applying?.argo],
    [
      'outcomes',
      view.outcomes.length
        ? table(view.outcomes.slice(-5).map((o) => [clock(o.at), o.kind, o.tag ?? '-', o.message]))
        : undefined,
    ],
  ]);
}
