import { startHealthServer, WorkerReadiness, type HealthServer } from '../../src/observe/health';
import { until } from './support/wait';

/** A probe the test answers: each question waits until the test answers (or fails) it. */
function controlledProbe() {
  const unanswered: { resolve: () => void; reject: (err: Error) => void }[] = [];
  const asked = () => until('the next question to Temporal', async () => (unanswered.length ? true : undefined));
  return {
    probe: () => new Promise<void>((resolve, reject) => unanswered.push({ resolve, reject })),
    answer: async () => (await asked(), unanswered.shift()!.resolve()),
    fail: async (message: string) => (await asked(), unanswered.shift()!.reject(new Error(message))),
  };
}

describe('WorkerReadiness: ready only while the worker runs and Temporal answered recently', () => {
  test('connecting → waiting for the first answer → ready → Temporal unreachable → ready → shutting down', async () => {
    let state = 'RUNNING';
    const answers = controlledProbe();
    const readiness = new WorkerReadiness({ intervalMs: 10 });
    expect(readiness.check()).toEqual({ ready: false, reason: 'connecting to Temporal' });

    readiness.watch(() => state, answers.probe);
    expect(readiness.check()).toEqual({ ready: false, reason: 'waiting for the first answer of Temporal' });
    await answers.answer();
    await until('ready', async () => (readiness.check().ready ? true : undefined));
    expect(readiness.check()).toMatchObject({ ready: true, detail: { worker: 'RUNNING' } });

    // The next question fails: not ready, with the reason's first line.
    await answers.fail('14 UNAVAILABLE: tcp connect error\nmore detail');
    await until('not ready', async () => (readiness.check().ready ? undefined : true));
    expect(readiness.check()).toEqual({
      ready: false,
      reason: 'Temporal unreachable: 14 UNAVAILABLE: tcp connect error',
    });

    await answers.answer();
    await until('ready again', async () => (readiness.check().ready ? true : undefined));

    state = 'DRAINING';
    expect(readiness.check()).toEqual({ ready: false, reason: 'worker draining, not polling' });
    state = 'RUNNING';
    readiness.stopping();
    expect(readiness.check()).toEqual({ ready: false, reason: 'shutting down: draining in-flight steps' });
  });

  test('a question that hangs is given up after timeoutMs: Temporal counts as unreachable', async () => {
    const answers = controlledProbe();
    const readiness = new WorkerReadiness({ intervalMs: 60_000, timeoutMs: 200 });
    readiness.watch(() => 'RUNNING', answers.probe);
    await until('not ready', async () => (readiness.check().ready ? undefined : true), { everyMs: 20 });
    await until('the verdict on the hung question', async () =>
      (readiness.check() as { reason: string }).reason.startsWith('Temporal unreachable') ? true : undefined,
    );
    expect(readiness.check()).toEqual({ ready: false, reason: 'Temporal unreachable: no answer within 0.2s' });
    readiness.stopping();
  });

  test('a success older than maxAge no longer counts', async () => {
    let now = 1_000_000;
    const answers = controlledProbe();
    const readiness = new WorkerReadiness({ intervalMs: 60_000, maxAgeMs: 15_000, now: () => now });
    readiness.watch(() => 'RUNNING', answers.probe);
    await answers.answer();
    await until('ready', async () => (readiness.check().ready ? true : undefined));
    now += 16_000; // no new answer since: the question in flight hangs
    expect(readiness.check()).toEqual({ ready: false, reason: 'Temporal has not answered for 16s' });
    readiness.stopping();
  });

  test('stopping before the worker exists stays not ready', () => {
    const readiness = new WorkerReadiness();
    readiness.stopping();
    readiness.watch(
      () => 'RUNNING',
      async () => undefined,
    );
    expect(readiness.check()).toEqual({ ready: false, reason: 'shutting down: draining in-flight steps' });
  });
});

describe('the health server', () => {
  let server: HealthServer;
  let ready = false;
  beforeAll(async () => {
    server = await startHealthServer({ host: '127.0.0.1', port: 0 }, () =>
      ready ? { ready: true, detail: { worker: 'RUNNING' } } : { ready: false, reason: 'connecting to Temporal' },
    );
  });
  afterAll(() => server.close());

  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`${server.url}${path}`, { method });
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      body: method === 'HEAD' ? '' : await res.text(),
    };
  };

  test('/healthz is 200 whatever readiness says; /readyz follows it with a JSON reason', async () => {
    expect(await get('/healthz')).toEqual({ status: 200, type: 'application/json', body: '{"status":"ok"}\n' });
    expect(await get('/readyz')).toEqual({
      status: 503,
      type: 'application/json',
      body: '{"status":"not ready","reason":"connecting to Temporal"}\n',
    });
    ready = true;
    expect(await get('/readyz')).toEqual({
      status: 200,
      type: 'application/json',
      body: '{"status":"ready","worker":"RUNNING"}\n',
    });
    expect(await get('/readyz?verbose=1')).toMatchObject({ status: 200 });
    expect(await get('/readyz', 'HEAD')).toMatchObject({ status: 200, body: '' });
  });

  test('anything else: 404 or 405', async () => {
    expect(await get('/metrics')).toMatchObject({ status: 404 });
    expect(await get('/healthz', 'POST')).toMatchObject({ status: 405 });
  });

  test('a taken port fails the start, naming the address', async () => {
    const port = Number(new URL(server.url).port);
    await expect(startHealthServer({ host: '127.0.0.1', port }, () => ({ ready: true }))).rejects.toThrow(
      `the health server cannot listen on 127.0.0.1:${port} (EADDRINUSE): set --health-address (HEALTH_ADDRESS) to a free port, or off`,
    );
  });
});
