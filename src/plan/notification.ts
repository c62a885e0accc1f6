import type { NotifyOutcome } from './report';

/** One notification, JSON-plain, rendered per sink format by the functions below. */
export interface NotificationEvent {
  outcome: NotifyOutcome;
  /** owner/name */
  repository: string;
  /** The target's name: `production`, or `pr-12` for a preview. */
  environment: string;
  pr?: number;
  /** `production`, `the preview of #12` */
  targetLabel: string;
  kind: 'deploy' | 'rollback';
  commit: string;
  tag?: string;
  message: string;
  requestedBy?: string;
  at: string;
  links: { commit?: string; workflow?: string; environment?: string; ci?: string };
}

// ---- Slack: an incoming webhook's body (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks)

export interface MrkdwnText {
  type: 'mrkdwn';
  text: string;
}
export type SlackBlock = { type: 'section'; text: MrkdwnText } | { type: 'context'; elements: MrkdwnText[] };
/** `text` is what notifications and clients without blocks show; `blocks` the message itself. */
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

/** A section's text may hold at most 3000 characters; the message leaves room for the headline. */
const SLACK_SECTION_LIMIT = 3_000;
const SLACK_MESSAGE_LIMIT = 2_500;

/** Slack parses `&`, `<` and `>` as control characters (links, mentions): text shows them escaped, nothing else. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * `<url|text>`; only http(s) URLs become links (no `javascript:`, no `<!channel>` smuggled in). A
 * `|` or `>` in the URL would end it early, so those are percent-encoded.
 */
export function slackLink(url: string | undefined, text: string): string {
  if (!url || !/^https?:\/\//i.test(url)) return slackEscape(text);
  const href = url.replace(/&/g, '&amp;').replace(/</g, '%3C').replace(/>/g, '%3E').replace(/\|/g, '%7C');
  return `<${href}|${slackEscape(text)}>`;
}

const EMOJI: Record<NotifyOutcome, string> = {
  succeeded: ':white_check_mark:',
  failed: ':x:',
  'rolled-back': ':rewind:',
  held: ':double_vertical_bar:',
  superseded: ':fast_forward:',
};

/** What happened, in one line: `Deployed sha-1a2b3c4 to production`. */
export function headline(event: NotificationEvent): string {
  const what = event.tag ?? event.commit.slice(0, 7);
  const where = event.targetLabel;
  if (event.outcome === 'rolled-back' || (event.kind === 'rollback' && event.outcome === 'succeeded'))
    return `Rolled back ${where} to ${what}`;
  const subject = event.kind === 'rollback' ? `Rollback of ${where} to ${what}` : `Deploy of ${what} to ${where}`;
  switch (event.outcome) {
    case 'succeeded':
      return `Deployed ${what} to ${where}`;
    case 'failed':
      return `${subject} failed`;
    case 'held':
      return `${subject} is held`;
    case 'superseded':
      return `${subject} was superseded`;
  }
}

/** Slack's date token shows the reader's own time zone; the fallback is the ISO time. */
function slackDate(at: string): string | undefined {
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) return undefined;
  return `<!date^${Math.floor(ms / 1_000)}^{date_short_pretty} at {time}|${slackEscape(new Date(ms).toISOString())}>`;
}

const clip = (text: string, limit: number) => (text.length <= limit ? text : `${text.slice(0, limit - 1)}…`);

/** A Slack-compatible incoming-webhook body: a section (what happened, why) and a context line of links. */
export function slackMessage(event: NotificationEvent): SlackMessage {
  const title = headline(event);
  const short = event.commit.slice(0, 7);
  const { links } = event;
  const message = slackEscape(clip(event.message.trim(), SLACK_MESSAGE_LIMIT));
  const section = `${EMOJI[event.outcome]} *${slackEscape(title)}*${message ? `\n${message}` : ''}`;
  const context = [
    `${slackEscape(event.repository)}@${slackLink(links.commit, short)}`,
    event.requestedBy ? `requested by ${slackEscape(event.requestedBy)}` : undefined,
    links.environment ? slackLink(links.environment, `open ${event.targetLabel}`) : undefined,
    links.ci ? slackLink(links.ci, 'CI run') : undefined,
    links.workflow ? slackLink(links.workflow, 'Temporal') : undefined,
    slackDate(event.at),
  ].filter((text): text is string => text !== undefined);
  return {
    text: `${EMOJI[event.outcome]} ${slackEscape(event.repository)}: ${slackEscape(title)}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: clip(section, SLACK_SECTION_LIMIT) } },
      { type: 'context', elements: context.map((text) => ({ type: 'mrkdwn', text })) },
    ],
  };
}

// ---- CloudEvents 1.0, structured mode (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md)

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

/** The whole event in one JSON document: the attributes beside `data`. */
export interface CloudEvent {
  specversion: '1.0';
  /** With `source`, unique per event: a consumer that saw it already drops a repeat. */
  id: string;
  /** URI-reference: `/gitops-deployer/<owner>/<repo>/<environment>`. */
  source: string;
  /** Reverse-DNS: `dev.gitops-deployer.deploy.succeeded`, `dev.gitops-deployer.rollback.rolled-back`. */
  type: string;
  /** The commit deployed (or rolled back to). */
  subject: string;
  /** RFC 3339. */
  time?: string;
  datacontenttype: 'application/json';
  data: NotificationEvent;
}

export const CLOUDEVENT_TYPE_PREFIX = 'dev.gitops-deployer';

export function cloudEventType(event: Pick<NotificationEvent, 'kind' | 'outcome'>): string {
  return `${CLOUDEVENT_TYPE_PREFIX}.${event.kind}.${event.outcome}`;
}

export function cloudEvent(event: NotificationEvent, id: string): CloudEvent {
  const segments = ['gitops-deployer', ...event.repository.split('/'), event.environment];
  const at = Date.parse(event.at);
  return {
    specversion: '1.0',
    id,
    source: `/${segments.map(encodeURIComponent).join('/')}`,
    type: cloudEventType(event),
    subject: event.commit,
    ...(Number.isNaN(at) ? {} : { time: new Date(at).toISOString() }),
    datacontenttype: 'application/json',
    data: event,
  };
}
