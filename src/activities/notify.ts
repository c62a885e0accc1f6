import { z } from 'zod';
import { notifyUrlVariable } from '../config/schema';
import { CLOUDEVENTS_CONTENT_TYPE, cloudEvent, slackMessage, type NotificationEvent } from '../plan/notification';
import { NOTIFY_OUTCOMES, type NotificationFormat } from '../plan/report';
import { permanent, requestFailure } from './failures';
import { fault, REQUEST_TIMEOUT_MS, Unavailable } from './faults';
import { checkInput, fullSha, imageTag, prNumber } from './input';
import { stepLog } from './log';

export interface NotifyDeps {
  /** Each configured sink by name: its format, and its URL from the worker's environment (undefined: not set). */
  sinks: Record<string, { format: NotificationFormat; url: string | undefined }>;
  fetch?: typeof fetch;
}

export interface DeliveryInput {
  sink: string;
  /** The event's id: the Idempotency-Key header (and a CloudEvent's id). */
  id: string;
  event: NotificationEvent;
}

const eventInput = z.strictObject({
  outcome: z.enum(NOTIFY_OUTCOMES),
  repository: z.string().regex(/^[^/\s]+\/[^/\s]+$/, 'expected owner/name'),
  environment: z.string().min(1),
  pr: prNumber.optional(),
  targetLabel: z.string().min(1),
  kind: z.enum(['deploy', 'rollback']),
  commit: fullSha,
  tag: imageTag.optional(),
  message: z.string(),
  requestedBy: z.string().optional(),
  at: z.iso.datetime({ offset: true }),
  links: z.strictObject({
    commit: z.string().optional(),
    workflow: z.string().optional(),
    environment: z.string().optional(),
    ci: z.string().optional(),
  }),
});

const deliveryInput = z.strictObject({
  sink: z.string().min(1),
  // A header value: printable ASCII, no spaces (fetch refuses anything else before sending).
  id: z.string().regex(/^[!-~]{1,500}$/, 'expected printable ASCII without spaces, at most 500 characters'),
  event: eventInput,
});

/** The request body and its media type, per the sink's format. */
function body(format: NotificationFormat, id: string, event: NotificationEvent): { type: string; text: string } {
  return format === 'slack'
    ? { type: 'application/json', text: JSON.stringify(slackMessage(event)) }
    : { type: CLOUDEVENTS_CONTENT_TYPE, text: JSON.stringify(cloudEvent(event, id)) };
}

/**
 * The parts of a sink's URL that are its secret (Slack's /services/T…/B…/token, a ?token= query),
 * to be cut out of anything the server echoes back: a framework's 404 page names the path it got.
 */
function secretParts(url: URL): string[] {
  const parts = [url.href, `${url.pathname}${url.search}`, url.pathname, url.search];
  for (const segment of url.pathname.split('/')) parts.push(segment, safeDecode(segment));
  for (const [key, value] of url.searchParams) parts.push(key, value, encodeURIComponent(value));
  // Short pieces (`api`, `v1`) are no secret and would garble the server's words.
  return [...new Set(parts.filter((p) => p.length >= 6))].sort((a, b) => b.length - a.length);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The server's words (a JSON body's message or error, else the text), short and without the URL's secret parts. */
function serverWords(text: string, secrets: string[]): string | undefined {
  let words = text.trim();
  try {
    const data = JSON.parse(words) as { message?: unknown; error?: unknown } | null;
    const said = data?.message ?? data?.error;
    if (typeof said === 'string') words = said;
  } catch {
    // plain text: Slack answers `no_service`, `invalid_payload`, `channel_is_archived`
  }
  words = secrets.reduce((w, secret) => w.split(secret).join('[redacted]'), words.slice(0, 2_000));
  return words ? words.slice(0, 200) : undefined;
}

/** Outgoing webhooks. */
export function notifySteps({ sinks, fetch: fetchImpl = fetch }: NotifyDeps) {
  /** Step `notify`: one event to one sink; a 2xx ends it, a 5xx or no answer is retried, any other answer is permanent. */
  async function deliverNotification(raw: DeliveryInput): Promise<{ status: number }> {
    const { sink: name, id, event } = checkInput(deliveryInput, raw, 'notify');
    const variable = notifyUrlVariable(name);
    const sink = sinks[name];
    if (!sink)
      throw permanent(
        `notify: no notification sink "${name}" in this worker's configuration (notifications): add it, or restart the worker with the configuration that names it`,
        'NotificationNotConfigured',
      );
    const url = sinkUrl(name, variable, sink.url);
    const host = url.host;
    const secrets = secretParts(url);
    const payload = body(sink.format, id, event);
    const started = Date.now();
    const log = (what: string, status: number) => {
      const ms = Date.now() - started;
      stepLog.info(`notification ${event.outcome} to sink "${name}" at ${host}: ${what} in ${ms} ms`, {
        sink: name,
        host,
        outcome: event.outcome,
        status,
        ms,
        idempotencyKey: id,
      });
    };

    // The deadline covers the answer's body too.
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const response = await fetchImpl(url, {
      method: 'POST',
      headers: {
        'content-type': payload.type,
        'idempotency-key': id,
        'user-agent': 'gitops-deployer',
        accept: 'application/json, text/plain, */*',
      },
      body: payload.text,
      // A webhook that moved is a URL to update, not one to follow with the notification (and its secret path).
      redirect: 'manual',
      signal,
    }).catch((err: unknown): never => {
      const verdict = requestFailure('notification sink', host, err, { subject: name });
      // An error the table does not know (a bug, a bad header) may quote the request: never the URL.
      if (verdict === err)
        throw new Unavailable(
          `notification sink "${name}" at ${host}: the request failed (${serverWords((err as Error)?.message ?? String(err), secrets) ?? 'no reason given'})`,
        );
      throw verdict;
    });

    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel().catch(() => undefined);
      log(`delivered (HTTP ${response.status})`, response.status);
      return { status: response.status };
    }
    const text = await response.text().catch(() => '');
    log(`answered HTTP ${response.status}`, response.status);
    throw fault({
      service: 'notification sink',
      host,
      subject: name,
      status: response.status,
      header: (header) => response.headers.get(header),
      detail: serverWords(text, secrets),
    });
  }
  return { deliverNotification };
}

/** The sink's URL, checked; a missing or unusable one is permanent and named by its variable, never its value. */
function sinkUrl(name: string, variable: string, value: string | undefined): URL {
  const fix = `set ${variable} in the worker's environment to the sink's webhook URL (https://…)`;
  if (!value?.trim())
    throw permanent(
      `notification sink "${name}": ${variable} is not set in the worker's environment: ${fix}`,
      'NotificationNotConfigured',
    );
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw permanent(`notification sink "${name}": ${variable} is not a URL: ${fix}`, 'NotificationNotConfigured');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw permanent(
      `notification sink "${name}": ${variable} is not an http:// or https:// URL: ${fix}`,
      'NotificationNotConfigured',
    );
  // fetch refuses a URL with credentials; a webhook's secret goes in its path or query.
  if (url.username || url.password)
    throw permanent(
      `notification sink "${name}": ${variable} carries a user name or password, which webhooks do not take: ${fix}`,
      'NotificationNotConfigured',
    );
  return url;
}
