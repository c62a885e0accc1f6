import { ApplicationFailure, type LogLevel } from '@temporalio/common';
import {
  createLogger,
  logFormatFromEnv,
  logLevelFromEnv,
  secretsFromEnv,
  type LogFormat,
  type LogOptions,
} from '../../src/observe/log';

const TOKEN = 'ghs_Zk3TestInstallationToken9aa';
const ARGO = 'argocd.eyJhbGciOiJIUzI1NiJ9.payload';
const WEBHOOK = 'whsec-unit-4b1d2c';
const ENV = { GITHUB_TOKEN: TOKEN, ARGOCD_TOKEN: ARGO, GITHUB_WEBHOOK_SECRET: WEBHOOK };

/** A parsed JSON line; tests read nested fields freely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed line's fields are whatever was logged
type Entry = Record<string, any>;

/** A logger writing into memory: `text` as written, `entries` parsed (JSON format). */
function captured(options: Partial<LogOptions> & { format?: LogFormat } = {}) {
  const chunks: string[] = [];
  const stream = { write: (chunk: string) => (chunks.push(chunk), true) } as unknown as NodeJS.WritableStream;
  const logger = createLogger({
    component: 'worker',
    format: 'json',
    level: 'DEBUG',
    secrets: secretsFromEnv(ENV),
    stream,
    ...options,
  });
  const text = () => chunks.join('');
  const lines = () => text().split('\n').slice(0, -1);
  const entries = () => lines().map((line) => JSON.parse(line) as Entry);
  return { logger, text, lines, entries, chunks };
}

describe('format', () => {
  test('JSON: one object per line, time, level, msg and component first, then the fields', () => {
    const { logger, chunks, entries } = captured();
    logger.info('fetched main to 3f2a1b4', { branch: 'main', tip: '3f2a1b4' });
    logger.child({ workflowId: 'deploy-x' }).warn('second');
    expect(chunks).toHaveLength(2);
    expect(chunks.every((c) => c.endsWith('\n') && c.indexOf('\n') === c.length - 1)).toBe(true);
    const [first, second] = entries();
    expect(Object.keys(first!)).toEqual(['time', 'level', 'msg', 'component', 'branch', 'tip']);
    expect(first).toMatchObject({ level: 'info', msg: 'fetched main to 3f2a1b4', component: 'worker', branch: 'main' });
    expect(new Date(first!.time).toISOString()).toBe(first!.time);
    expect(second).toMatchObject({ level: 'warn', msg: 'second', component: 'worker', workflowId: 'deploy-x' });
  });

  test('base fields on every line; the component is the logger’s, whatever a field says', () => {
    const { logger, entries } = captured({ component: 'relay', base: { pod: 'relay-0' } });
    logger.info('x', { component: 'impostor' });
    expect(entries()[0]).toMatchObject({ component: 'relay', pod: 'relay-0' });
  });

  test('pretty: one readable line, the SDK’s routine context left out, errors as name and message', () => {
    const { logger, text } = captured({ format: 'pretty' });
    logger.warn('findCiRun failed', {
      namespace: 'default',
      taskQueue: 'q',
      sdkComponent: 'activity',
      activityType: 'findCiRun',
      attempt: 2,
      reason: 'two words',
      error: new Error('GitHub answered 503'),
    });
    const line = text();
    expect(line.split('\n')).toHaveLength(2);
    expect(line).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z WARN {2}\[worker\] findCiRun failed {2}activityType=findCiRun attempt=2 reason="two words" error="Error: GitHub answered 503"\n$/,
    );
    expect(line).not.toMatch(/namespace|taskQueue|sdkComponent/);
  });

  test('LOG_FORMAT wins; otherwise pretty on a terminal, JSON elsewhere', () => {
    expect(logFormatFromEnv({}, { isTTY: true })).toBe('pretty');
    expect(logFormatFromEnv({}, { isTTY: false })).toBe('json');
    expect(logFormatFromEnv({}, {})).toBe('json');
    expect(logFormatFromEnv({ LOG_FORMAT: 'JSON' }, { isTTY: true })).toBe('json');
    expect(logFormatFromEnv({ LOG_FORMAT: 'pretty' }, { isTTY: false })).toBe('pretty');
    expect(logFormatFromEnv({ LOG_FORMAT: 'xml' }, { isTTY: false })).toBe('json');
  });
});

describe('levels', () => {
  test('LOG_LEVEL, any case; info when unset or unknown', () => {
    expect(logLevelFromEnv({})).toBe('INFO');
    expect(logLevelFromEnv({ LOG_LEVEL: 'debug' })).toBe('DEBUG');
    expect(logLevelFromEnv({ LOG_LEVEL: 'Warn' })).toBe('WARN');
    expect(logLevelFromEnv({ LOG_LEVEL: 'error' })).toBe('ERROR');
    expect(logLevelFromEnv({ LOG_LEVEL: 'verbose' })).toBe('INFO');
  });

  const RANK = ['trace', 'debug', 'info', 'warn', 'error'];
  test.each<LogLevel>(['DEBUG', 'INFO', 'WARN', 'ERROR'])('at %s only that level and above are written', (level) => {
    const { logger, entries } = captured({ level });
    logger.trace('t');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    logger.log('INFO', 'through log()');
    const threshold = RANK.indexOf(level.toLowerCase());
    const expected = ['trace', 'debug', 'info', 'warn', 'error', 'info'].filter((l) => RANK.indexOf(l) >= threshold);
    expect(entries().map((e) => e.level)).toEqual(expected);
  });
});

describe('secretsFromEnv', () => {
  test('each secret, its percent-encoded and base64 forms and git’s Basic credential, longest first', () => {
    const secrets = secretsFromEnv({ ...ENV, AZURE_CLIENT_SECRET: 'a/b+c=d', HOME: '/home/node', GITHUB_TOKEN: TOKEN });
    expect(secrets).toEqual(expect.arrayContaining([TOKEN, ARGO, WEBHOOK, 'a/b+c=d', 'a%2Fb%2Bc%3Dd']));
    expect(secrets).toContain(Buffer.from(`x-access-token:${TOKEN}`).toString('base64'));
    expect(secrets).toContain(Buffer.from(TOKEN).toString('base64'));
    expect(secrets).not.toContain('/home/node');
    expect([...secrets].sort((a, b) => b.length - a.length)).toEqual(secrets);
  });

  test('unset, empty and too-short values are not secrets (masking "ab" would mask half the log)', () => {
    expect(secretsFromEnv({ GITHUB_TOKEN: '', ARGOCD_TOKEN: 'ab' })).toEqual([]);
  });
});

describe('redaction', () => {
  const leaks = (text: string) => [TOKEN, ARGO, WEBHOOK].filter((secret) => text.includes(secret));

  test('exact secret values in the message, nested fields, arrays, maps and keys', () => {
    const { logger, text, entries } = captured();
    logger.info(`token is ${TOKEN}`, {
      deep: { a: { b: { c: [`argo ${ARGO}`, { webhook: WEBHOOK }] } } },
      map: new Map([['k', TOKEN]]),
      [`key-${WEBHOOK}`]: 1,
    });
    expect(leaks(text())).toEqual([]);
    expect(entries()[0]).toMatchObject({
      msg: 'token is ***',
      deep: { a: { b: { c: ['argo ***', { webhook: '***' }] } } },
      map: { k: '***' },
      'key-***': 1,
    });
  });

  test('errors: message, stack and every cause, with Temporal’s type and retryability kept', () => {
    const { logger, text, entries } = captured();
    const root = new Error(`connect ECONNREFUSED with ${ARGO}`);
    const failure = ApplicationFailure.create({
      message: `the origin refused ${TOKEN}`,
      type: 'GitAuthFailed',
      nonRetryable: true,
      cause: root,
    });
    logger.error('step failed', { error: failure });
    expect(leaks(text())).toEqual([]);
    const { error } = entries()[0]!;
    expect(error).toMatchObject({
      name: 'ApplicationFailure',
      message: 'the origin refused ***',
      type: 'GitAuthFailed',
      nonRetryable: true,
      cause: { name: 'Error', message: 'connect ECONNREFUSED with ***' },
    });
    expect(error.stack).toContain('the origin refused ***');
    expect(error.cause.stack).toContain('ECONNREFUSED with ***');
  });

  test('a token inside a URL, in any form git or a person might write it', () => {
    const { logger, text } = captured();
    logger.info(`fetch of https://x-access-token:${TOKEN}@github.com/o/r.git failed`);
    logger.info(`clone https://${encodeURIComponent(TOKEN)}@github.com/o/r.git`);
    logger.info('clone https://deployer:hunter2-password@git.example.com/o/r.git?access_token=abc123&x=1');
    logger.info('link', { url: new URL(`https://user:${WEBHOOK}@hooks.example.com/p`) });
    expect(leaks(text())).toEqual([]);
    expect(text()).not.toContain('hunter2');
    expect(text()).not.toContain('abc123');
    expect(text()).toContain('https://x-access-token:***@github.com/o/r.git');
    expect(text()).toContain('https://deployer:***@git.example.com/o/r.git?access_token=***&x=1');
  });

  test('credential shapes of values the process does not know: GitHub tokens, JWTs, Bearer, Basic, Authorization headers', () => {
    const { logger, text, entries } = captured({ secrets: [] });
    const basic = Buffer.from('x-access-token:ghp_someoneElsesToken123').toString('base64');
    logger.info('ghp_abcdefghijklmnop1234 and github_pat_11ABCDEFG0123456789abcdef_xyz');
    logger.info('argocd said eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl in its error');
    logger.info('header Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig');
    logger.info(`http.extraHeader=AUTHORIZATION: basic ${basic}`);
    logger.info('sent', { headers: { Authorization: 'token 0123456789abcdef', 'x-hub-signature-256': 'sha256=ff' } });
    logger.info('bare Bearer abc.def-123456 and Basic dXNlcjpwYXNzd29yZA==');
    logger.info('the registry asks for Basic authentication; GitHub wants a Bearer token'); // prose stays
    const [gh, jwt, bearer, extraHeader, sent, bare, prose] = entries();
    expect(gh!.msg).toBe('*** and ***');
    expect(jwt!.msg).toBe('argocd said *** in its error');
    expect(bearer!.msg).toBe('header Authorization: Bearer ***');
    expect(extraHeader!.msg).toBe('http.extraHeader=AUTHORIZATION: basic ***');
    expect(sent!.headers).toEqual({ Authorization: '***', 'x-hub-signature-256': '***' });
    expect(bare!.msg).toBe('bare Bearer *** and Basic ***');
    expect(prose!.msg).toBe('the registry asks for Basic authentication; GitHub wants a Bearer token');
    expect(text()).not.toContain(basic);
  });

  test('git’s Basic credential is masked by value even without its header', () => {
    const { logger, text } = captured();
    logger.info(`GIT_CONFIG_VALUE_2=${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`);
    expect(text()).toContain('GIT_CONFIG_VALUE_2=***');
  });

  test('pretty lines are redacted the same way', () => {
    const { logger, text } = captured({ format: 'pretty' });
    logger.info(`t ${TOKEN}`, { nested: { v: ARGO }, error: new Error(WEBHOOK) });
    expect(leaks(text())).toEqual([]);
  });
});

describe('SDK metadata', () => {
  test('the SDK’s bigint timestamp (nanoseconds, under its symbol) is the line’s time; other bigints become strings', () => {
    const { logger, entries } = captured();
    logger.info('Workflow started', {
      [Symbol.for('log_timestamp')]: 1_700_000_000_123_456_789n,
      historyLength: 12n,
    } as Record<string | symbol, unknown> as Record<string, unknown>);
    expect(entries()[0]).toMatchObject({ time: '2023-11-14T22:13:20.123Z', historyLength: '12' });
    expect(Object.keys(entries()[0]!)).not.toContain('timestamp');
  });

  test('activity lines: workflowRunId is written runId (as workflow lines name it); the task token stays out', () => {
    const { logger, entries } = captured();
    logger.info('validated 2 images', {
      workflowId: 'deploy-o-r-abc',
      workflowRunId: '0190-run',
      activityType: 'validateImages',
      attempt: 1,
      taskToken: 'CiQ4ZjM2Y2E0Zi1iZGI3LTQ3MzAtOTMxZC1hNjZkNmY0ZmZhNTYSGmRlcGxveS1vLXItYWJj',
    });
    const entry = entries()[0]!;
    expect(entry).toMatchObject({ workflowId: 'deploy-o-r-abc', runId: '0190-run', activityType: 'validateImages' });
    expect(entry).not.toHaveProperty('workflowRunId');
    expect(entry).not.toHaveProperty('taskToken');
  });
});

describe('never throws', () => {
  test('circular, deep, huge and odd metadata become JSON with markers', () => {
    const { logger, entries } = captured();
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    const list: unknown[] = [];
    list.push(list);
    const error = new Error('own cause') as Error & { cause?: unknown };
    error.cause = error;
    let deep: Record<string, unknown> = {};
    const top = deep;
    for (let i = 0; i < 50; i++) deep = (deep.next = {}) as Record<string, unknown>;
    const odd = {
      loop,
      list,
      error,
      top,
      big: Array.from({ length: 1_000 }, (_, i) => i),
      long: 'x'.repeat(20_000),
      symbol: Symbol('s'),
      fn: () => 1,
      nothing: undefined,
      nan: NaN,
      infinite: -Infinity,
      date: new Date(0),
      invalidDate: new Date('nope'),
      buffer: Buffer.from('raw bytes'),
      set: new Set([1, 2]),
      bare: Object.assign(Object.create(null) as object, { a: 1 }),
      long64: { low: 1, high: 0, unsigned: false, toString: () => '1' },
      get throws(): string {
        throw new Error('getter');
      },
      proxy: new Proxy(
        {},
        {
          ownKeys() {
            throw new Error('no keys');
          },
        },
      ),
      toJson: { toJSON: () => ({ inner: 1n }) },
      badJson: {
        toJSON() {
          throw new Error('no JSON');
        },
      },
    };
    expect(() => logger.info('odd', odd as never)).not.toThrow();
    const entry = entries()[0]!;
    expect(entry).toMatchObject({
      loop: { name: 'loop', self: '[Circular]' },
      list: ['[Circular]'],
      error: { message: 'own cause', cause: '[Circular]' },
      symbol: 'Symbol(s)',
      nan: 'NaN',
      infinite: '-Infinity',
      date: '1970-01-01T00:00:00.000Z',
      invalidDate: 'Invalid Date',
      buffer: '[Buffer 9 bytes]',
      set: [1, 2],
      bare: { a: 1 },
      throws: '[unreadable]',
      proxy: '[unreadable]',
      toJson: { inner: '1' },
      badJson: '[unreadable]',
    });
    expect(entry).not.toHaveProperty('fn');
    expect(entry).not.toHaveProperty('nothing');
    expect(entry.big).toHaveLength(51);
    expect(entry.big.at(-1)).toBe('…(950 more)');
    expect(entry.long.length).toBeLessThan(8_100);
    expect(JSON.stringify(entry.top)).toContain('[…]');
  });

  test('a non-string message, an unknown level and a failing stream do not throw', () => {
    const { logger, entries } = captured();
    logger.info(42 as unknown as string);
    logger.log('info' as LogLevel, 'lower-case level');
    expect(entries().map((e) => e.msg)).toEqual(['42', 'lower-case level']);
    const broken = createLogger({
      component: 'worker',
      format: 'json',
      stream: {
        write: () => {
          throw new Error('EPIPE');
        },
      } as unknown as NodeJS.WritableStream,
    });
    expect(() => broken.error('nobody listens')).not.toThrow();
  });
});
