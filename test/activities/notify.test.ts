import { ApplicationFailure, ensureApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { withFailureLogs } from '../../src/activities/log';
import { notifySteps, type DeliveryInput, type NotifyDeps } from '../../src/activities/notify';
import { cloudEvent, slackMessage } from '../../src/plan/notification';
import { createLogger } from '../../src/observe/log';
import { notifySinks } from '../../src/worker/notify-sinks';
import { startSilentServer } from '../../harness/silent-server';
import { startSinkStandIn, type SinkStandIn } from '../../harness/standins/sink';
import { notificationEvent } from '../support/notification-event';

// Step `notify` against a webhook receiver that records what it got and answers as scripted; run
// inside a mock activity whose logger is the worker's, so every line it writes is checked too.

/** The sink's secret: Slack's webhook path is its token; some receivers take a query token. */
const SECRET_PATH = '/services/T0ACME42/B0DEPLOYS/s3cr3tW3bh00kT0ken?token=qu3ryS3cr3t';
const SECRETS = ['s3cr3tW3bh00kT0ken', 'qu3ryS3cr3t', 'B0DEPLOYS', 'T0ACME42'];
const ID = 'deploy-acme-shop-0b0b0b0/succeeded';

const event = notificationEvent();

let sink: SinkStandIn;
let lines: Array<{ level: string; msg: string; [field: string]: unknown }>;

beforeEach(async () => {
  sink = await startSinkStandIn({ path: SECRET_PATH });
  lines = [];
});
afterEach(async () => {
  await sink.stop();
  // Whatever happened, no line the worker wrote names the sink's URL or a piece of its secret.
  const written = JSON.stringify(lines);
  for (const secret of SECRETS) expect(written).not.toContain(secret);
});

/** The worker's JSON logger (no redaction configured: the step itself must keep the URL out), into `lines`. */
function workerLogger() {
  return createLogger({
    component: 'worker',
    format: 'json',
    level: 'DEBUG',
    secrets: [],
    stream: {
      write: (chunk: string) => {
        for (const line of chunk.split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        return true;
      },
    } as unknown as NodeJS.WritableStream,
  });
}

/** One attempt of the step as Temporal runs it: in an activity, with the failure logs the worker adds. */
async function attempt(
  sinks: NotifyDeps['sinks'],
  input: DeliveryInput = { sink: 'deploys', id: ID, event },
  number = 1,
): Promise<{ status: number } | ApplicationFailure> {
  const steps = withFailureLogs(notifySteps({ sinks }));
  const env = new MockActivityEnvironment(
    {
      activityType: 'deliverNotification',
      attempt: number,
      workflowExecution: { workflowId: 'report-deploy-1', runId: 'run-1' },
    },
    { logger: workerLogger() },
  );
  try {
    return (await env.run(() => steps.deliverNotification(input))) as { status: number };
  } catch (err) {
    const failure = ensureApplicationFailure(err);
    for (const secret of SECRETS) expect(failure.message).not.toContain(secret);
    return failure;
  }
}

const slack = (url: string | undefined): NotifyDeps['sinks'] => ({ deploys: { format: 'slack', url } });
const retryable = (type: string) => ({ type, nonRetryable: false, nextRetryDelay: undefined });

test('500, 500, 200: two retryable failures, then delivered once; every attempt carries the same Idempotency-Key', async () => {
  sink.answer([500, 500, 200]);
  const results = [];
  for (const n of [1, 2, 3]) results.push(await attempt(slack(sink.url), undefined, n));

  expect(results[0]).toMatchObject({
    ...retryable('Unavailable'),
    message: `notification sink "deploys" at ${sink.host} failed (HTTP 500: HTTP 500)`,
  });
  expect(results[1]).toMatchObject(retryable('Unavailable'));
  expect(results[2]).toEqual({ status: 200 });

  expect(sink.requests.map((r) => [r.method, r.status, r.key])).toEqual([
    ['POST', 500, ID],
    ['POST', 500, ID],
    ['POST', 200, ID],
  ]);
  expect(Object.keys(sink.accepted())).toEqual([ID]);
  expect(sink.accepted()[ID]).toHaveLength(1);

  const [request] = sink.accepted()[ID]!;
  expect(request!.headers['content-type']).toBe('application/json');
  expect(request!.headers['user-agent']).toBe('gitops-deployer');
  expect(request!.body).toEqual(slackMessage(event));

  // The worker's record: each answered attempt at info (sink, outcome, status, ms); failures also as warnings.
  const info = lines.filter((l) => l.level === 'info' && l.msg.startsWith('notification'));
  expect(info.map((l) => [l.sink, l.outcome, l.status, typeof l.ms, l.host])).toEqual([
    ['deploys', 'succeeded', 500, 'number', sink.host],
    ['deploys', 'succeeded', 500, 'number', sink.host],
    ['deploys', 'succeeded', 200, 'number', sink.host],
  ]);
  expect(info[2]!.msg).toMatch(
    new RegExp(`^notification succeeded to sink "deploys" at ${sink.host}: delivered \\(HTTP 200\\) in \\d+ ms$`),
  );
  // (The SDK's own "Activity failed" lines carry the stack.)
  const warnings = lines.filter((l) => l.level === 'warn' && l.msg !== 'Activity failed');
  expect(warnings.map((l) => l.msg)).toEqual([
    expect.stringMatching(/^deliverNotification failed, retryable with backoff \(Unavailable\)/),
    expect.stringMatching(/^deliverNotification failed, retryable with backoff \(Unavailable\)/),
  ]);
});

test('a CloudEvents sink gets the structured-mode body with its media type; the event id is the CloudEvent id', async () => {
  const result = await attempt({ deploys: { format: 'cloudevents', url: sink.url } });
  expect(result).toEqual({ status: 200 });
  const [request] = sink.requests;
  expect(request!.headers['content-type']).toBe('application/cloudevents+json; charset=utf-8');
  expect(request!.headers['idempotency-key']).toBe(ID);
  expect(request!.body).toEqual(cloudEvent(event, ID));
  expect(request!.body).toMatchObject({ specversion: '1.0', id: ID, type: 'dev.gitops-deployer.deploy.succeeded' });
});

test('404 (a removed or mistyped webhook) is permanent, with advice naming the sink and its variable, never the URL', async () => {
  const result = await attempt(slack(`http://${sink.host}/services/T0ACME42/B0DEPLOYS/s3cr3tW3bh00kT0kenOld`));
  expect(result).toMatchObject({
    type: 'NotificationRefused',
    nonRetryable: true,
    message: `notification sink "deploys" at ${sink.host} refused the notification (HTTP 404: no_service): check that NOTIFY_DEPLOYS_URL holds the sink's current webhook URL (a removed or mistyped webhook answers 403, 404 or 410; redirects are not followed)`,
  });
  expect(lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
    expect.stringMatching(/^deliverNotification failed, not retryable \(NotificationRefused\)/),
  ]);
});

test("a server's words that echo the URL's path are quoted without it", async () => {
  sink.answer([{ status: 404, body: `Cannot POST ${SECRET_PATH}` }]);
  const result = (await attempt(slack(sink.url))) as ApplicationFailure;
  expect(result).toMatchObject({ type: 'NotificationRefused', nonRetryable: true });
  expect(result.message).toContain('(HTTP 404: Cannot POST [redacted])');
});

test('400 (the sink refused the body) is permanent, pointing at the format', async () => {
  sink.answer([{ status: 400, body: 'invalid_payload' }]);
  expect(await attempt(slack(sink.url))).toMatchObject({
    type: 'NotificationRejected',
    nonRetryable: true,
    message: expect.stringMatching(
      /rejected the notification \(HTTP 400: invalid_payload\): check that the sink takes the format configured for "deploys" .* NOTIFY_DEPLOYS_URL/,
    ),
  });
});

test('a redirect is not followed: the notification (and its secret path) stays with the host it was meant for', async () => {
  sink.answer([{ status: 301, headers: { location: `http://${sink.host}/moved` } }]);
  expect(await attempt(slack(sink.url))).toMatchObject({ type: 'NotificationRefused', nonRetryable: true });
  expect(sink.requests.map((r) => r.path)).toEqual([SECRET_PATH]);
});

test('429 with Retry-After waits the time it names; 429 without it and 408 are retried with backoff', async () => {
  sink.answer([{ status: 429, headers: { 'retry-after': '7' } }, 429, 408, 503]);
  const limited = (await attempt(slack(sink.url))) as ApplicationFailure;
  expect(limited).toMatchObject({
    type: 'RateLimited',
    nonRetryable: false,
    message: `notification sink "deploys" at ${sink.host} is rate limiting (HTTP 429): retrying after 7 s, as Retry-After asks`,
  });
  expect(limited.nextRetryDelay).toBe(7_000);
  expect(await attempt(slack(sink.url))).toMatchObject(retryable('Unavailable'));
  expect(await attempt(slack(sink.url))).toMatchObject(retryable('Unavailable'));
  expect(await attempt(slack(sink.url))).toMatchObject(retryable('Unavailable'));
  expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)[0]).toMatch(
    /^deliverNotification failed, retryable in 7 s as the server asked \(RateLimited\)/,
  );
  expect(sink.accepted()).toEqual({});
});

test('a sink that is down (connection refused) is retryable: Unreachable, naming the host only', async () => {
  await sink.down();
  expect(await attempt(slack(sink.url))).toMatchObject({
    ...retryable('Unreachable'),
    message: `cannot reach notification sink "deploys" at ${sink.host} (ECONNREFUSED)`,
  });
});

test('a sink that never answers: the request gives up after 15 s, retryable', async () => {
  const silent = await startSilentServer();
  const { host } = silent;
  try {
    const started = Date.now();
    const result = await attempt(slack(`http://${host}${SECRET_PATH}`));
    expect(result).toMatchObject({
      ...retryable('Timeout'),
      message: `notification sink "deploys" at ${host} did not answer within 15 s`,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(14_500);
  } finally {
    await silent.close();
  }
}, 40_000);

describe('a sink without a usable URL is permanent, naming the variable and never the value', () => {
  test.each<[string, string | undefined, RegExp]>([
    ['not set', undefined, /^notification sink "deploys": NOTIFY_DEPLOYS_URL is not set in the worker's environment/],
    ['not a URL', 's3cr3tW3bh00kT0ken', /^notification sink "deploys": NOTIFY_DEPLOYS_URL is not a URL/],
    [
      'not http(s)',
      'ftp://hooks.acme.io/s3cr3tW3bh00kT0ken',
      /^notification sink "deploys": NOTIFY_DEPLOYS_URL is not an http:\/\/ or https:\/\/ URL/,
    ],
    [
      'with a password',
      'https://user:s3cr3tW3bh00kT0ken@hooks.acme.io/x',
      /^notification sink "deploys": NOTIFY_DEPLOYS_URL carries a user name or password/,
    ],
  ])('%s', async (_name, url, message) => {
    const result = await attempt(slack(url));
    expect(result).toMatchObject({ type: 'NotificationNotConfigured', nonRetryable: true, message });
    expect(sink.requests).toEqual([]);
  });

  test('a sink the configuration does not name', async () => {
    expect(await attempt(slack(sink.url), { sink: 'elsewhere', id: ID, event })).toMatchObject({
      type: 'NotificationNotConfigured',
      nonRetryable: true,
      message: expect.stringMatching(/^notify: no notification sink "elsewhere" in this worker's configuration/),
    });
  });

  test('a bad input (an id that cannot be a header, a short commit) is refused before any request', async () => {
    const result = await attempt(slack(sink.url), {
      sink: 'deploys',
      id: 'two words',
      event: { ...event, commit: 'abc' },
    });
    expect(result).toMatchObject({ type: 'BadInput', nonRetryable: true });
    expect((result as ApplicationFailure).message).toMatch(/^notify: bad input: id: .*; event\.commit: /);
    expect(sink.requests).toEqual([]);
  });
});

test("the worker's sinks: the format from the config, the URL from NOTIFY_<NAME>_URL", async () => {
  const sinks = notifySinks(
    {
      notifications: [
        { name: 'deploys-slack', format: 'slack', environments: ['production'], on: ['failed'] },
        { name: 'events', format: 'cloudevents', environments: ['production', 'preview'], on: ['succeeded'] },
      ],
    },
    { NOTIFY_DEPLOYS_SLACK_URL: `${sink.url}\n`, NOTIFY_OTHER_URL: 'https://x.acme.io' },
  );
  expect(sinks).toEqual({
    'deploys-slack': { format: 'slack', url: sink.url },
    events: { format: 'cloudevents', url: undefined },
  });
  expect(await attempt(sinks, { sink: 'deploys-slack', id: ID, event })).toEqual({ status: 200 });
  expect(await attempt(sinks, { sink: 'events', id: ID, event })).toMatchObject({
    type: 'NotificationNotConfigured',
    message: expect.stringContaining('NOTIFY_EVENTS_URL is not set'),
  });
});
