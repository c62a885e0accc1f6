import type { CommentState } from './report';
import type { TagRule } from './tag-rule';

/**
 * The one comment a preview keeps on its pull request: found again by the hidden marker on its
 * first line, which also carries the writer's order key (a late write from a superseded push must
 * not overwrite a newer one).
 */
export interface PreviewCommentFacts {
  pr: number;
  /** The writer's order key: the deploy's start time (ISO), or the close's. */
  order: string;
  state: CommentState;
  commit: string;
  tag?: string;
  rule?: TagRule;
  ruleReason?: string;
  /** The preview's URL; shown only once it is ready. */
  url?: string;
  ciRunUrl?: string;
  /** The deploy's page in the Temporal Web UI. */
  workflowUrl?: string;
  /** Why it failed. */
  message?: string;
  /** When this was written (ISO). */
  at: string;
  /** The repository's web page, for the commit link. */
  repositoryUrl: string;
}

const MARKER = '<!-- gitops-deployer:preview';
const MARKER_LINE = /^<!-- gitops-deployer:preview order=(\S+) -->\r?$/;
/** A failure's reason is the deployer's own message; a long one is cut, the Temporal UI has it whole. */
const REASON_LIMIT = 300;

const HEADLINE: Record<CommentState, string> = {
  'waiting-for-ci': '⏳ Preview: waiting for CI',
  deploying: '🚧 Preview: deploying',
  syncing: '🔄 Preview: syncing',
  ready: '✅ Preview: ready',
  failed: '❌ Preview: failed',
  removed: '🗑️ Preview removed',
};

const RULE: Record<TagRule, string> = {
  ci: "this commit's own CI build",
  running: 'the tag production runs',
  'pr-history': 'an earlier build of the same code in this pull request',
  production: "production's tag (no code changed)",
};

/** The comment's body: the marker, a headline with the state, and a small table of what is known. */
export function previewCommentBody(facts: PreviewCommentFacts): string {
  const { state } = facts;
  const lines = [`${MARKER} order=${orderKey(facts.order)} -->`];
  const reason = state === 'failed' && facts.message ? `: ${text(shorten(facts.message))}` : '';
  lines.push(`### ${HEADLINE[state]}${reason}`, '');
  if (state === 'ready' && facts.url)
    lines.push(`The preview of #${facts.pr} runs at ${link(facts.url, facts.url)}.`, '');
  if (state === 'removed') lines.push(`The pull request closed: the preview of #${facts.pr} is gone.`, '');

  const rows: Array<[string, string]> = [];
  if (facts.tag) {
    const rule = facts.rule ? ` — ${RULE[facts.rule]}${facts.ruleReason ? ` (${text(facts.ruleReason)})` : ''}` : '';
    rows.push([state === 'removed' ? 'Last tag' : 'Tag', `${code(facts.tag)}${rule}`]);
  }
  if (state === 'ready' && facts.url) rows.push(['Preview', link(facts.url, facts.url)]);
  rows.push([
    'Commit',
    link(`${facts.repositoryUrl.replace(/\/+$/, '')}/commit/${facts.commit}`, facts.commit.slice(0, 7), true),
  ]);
  if (facts.ciRunUrl) rows.push(['CI run', link(facts.ciRunUrl, 'the CI run')]);
  if (facts.workflowUrl) rows.push(['Deploy', link(facts.workflowUrl, 'in the Temporal UI')]);
  lines.push('| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`), '');
  lines.push(`<sub>Updated ${text(facts.at)} by gitops-deployer.</sub>`);
  return lines.join('\n');
}

/** Whether a comment is the preview comment: its first line is the marker. */
export function isPreviewComment(body: string | null | undefined): boolean {
  return !!body && body.startsWith(MARKER);
}

/** The order key of the write a preview comment holds, if it is one. */
export function commentOrder(body: string | null | undefined): string | undefined {
  if (!body) return undefined;
  return MARKER_LINE.exec(body.split('\n', 1)[0]!)?.[1];
}

/** The order key as the marker can hold it: no spaces, nothing that ends the HTML comment. */
function orderKey(order: string): string {
  return order.replace(/[^A-Za-z0-9:.+_-]/g, '') || '0';
}

/** Text set into the Markdown: one line, no HTML, no table or code breaks, no emphasis or links by accident. */
function text(value: string): string {
  return value
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\\`*_[\]|~]/g, '\\$&')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** A code span, when the text can be one (no backtick to end it early); otherwise escaped text. */
function code(value: string): string {
  const flat = value.replace(/\s+/g, ' ').trim();
  // GitHub's tables split on `|` even inside a code span unless it is escaped.
  return flat.includes('`') ? text(flat) : `\`${flat.replace(/\|/g, '\\|')}\``;
}

/** A link whose URL cannot end the link early or break the table; only http(s) URLs are linked. */
function link(url: string, label: string, asCode = false): string {
  const shown = asCode ? code(label) : text(label);
  if (!/^https?:\/\//i.test(url)) return shown;
  const safe = url.replace(/[\s()<>|`\\]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return `[${shown}](${safe})`;
}

function shorten(message: string): string {
  const flat = message.replace(/\s+/g, ' ').trim();
  return flat.length <= REASON_LIMIT ? flat : `${flat.slice(0, REASON_LIMIT - 1)}…`;
}
