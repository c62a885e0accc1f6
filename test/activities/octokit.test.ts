import { ApplicationFailure, ensureApplicationFailure } from '@temporalio/common';
import { ciSteps } from '../../src/activities/ci';
import { Unavailable, Unreachable } from '../../src/activities/faults';
import { createOctokit, IN_PROCESS_RETRIES, IN_PROCESS_WAIT_MAX_S, waitsInProcess } from '../../src/activities/octokit';
import { freePort } from '../../harness/ports';
import { startGitHubStandIn, type GitHubStandIn } from '../../harness/standins/github';

/**
 * The one GitHub client (src/activities/octokit.ts): plugin-throttling and plugin-retry in front of
 * the fault table, through the wait-for-ci probe step against the GitHub stand-in.
 */
const TOKEN = 'ghs_octokit_test_token';
const OWNER = 'acme';
const REPO = 'yt';
const COMMIT = 'c'.repeat(40);
const RUNS = `/repos/${OWNER}/${REPO}/actions/workflows/ci.yml/runs`;
const ROUTE = 'GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs';
const SECONDARY = {
  message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
};

let gh: GitHubStandIn;
let warnings: string[];

beforeEach(async () => {
  gh = await startGitHubStandIn({ token: TOKEN });
  gh.addWorkflow({ owner: OWNER, repo: REPO });
  warnings = [];
});
afterEach(async () => {
  // No line the client said may carry the token or a query string.
  for (const line of warnings) {
    expect(line).not.toContain(TOKEN);
    expect(line).not.toContain('?');
  }
  await gh.stop();
});

/** The probe step with the worker's client, its in-process lines captured. */
function probe(baseUrl = gh.url) {
  const octokit = createOctokit({ token: TOKEN, baseUrl, logger: { warn: (line) => warnings.push(line) } });
  const steps = ciSteps({
    octokit,
    owner: OWNER,
    repo: REPO,
    mainBranch: 'main',
    apiHost: new URL(baseUrl).host,
    workflow: 'ci.yml',
  });
  return { octokit, findCiRun: () => steps.findCiRun({ commit: COMMIT }) };
}

/** How long the promise took to settle, and what it settled with. */
async function measure<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = Date.now();
  try {
    const value = await promise;
    return { ms: Date.now() - started, value };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

const statuses = () => gh.requests.filter((r) => r.path === RUNS).map((r) => r.status);

describe('waitsInProcess: which waits GitHub names are waited out inside the request', () => {
  test.each([
    [2, 0, true],
    [0, 0, true], // a reset already past: one immediate retry
    [IN_PROCESS_WAIT_MAX_S, 0, true],
    [IN_PROCESS_WAIT_MAX_S + 1, 0, false], // longer: a durable wait through the fault table
    [60, 0, false], // plugin-throttling's fallback for a secondary limit without Retry-After
    [3_601, 0, false], // a primary rate limit's reset in an hour
    [2, 1, false], // only the first time: the second limit goes to the fault table
  ])('retry-after %p s, retry %p: %p', (retryAfter, retryCount, expected) => {
    expect(waitsInProcess(retryAfter, retryCount)).toBe(expected);
  });
});

describe('rate limits', () => {
  test('403 secondary rate limit with retry-after 2: the step waits ~2 s in-process and succeeds', async () => {
    gh.failNext(1, 403, { 'retry-after': '2' }, SECONDARY);
    const { ms, value, error } = await measure(probe().findCiRun());
    expect(error).toBeUndefined();
    expect(value).toBeNull(); // no run yet: the probe's answer, not a failure
    expect(ms).toBeGreaterThanOrEqual(1_900);
    expect(ms).toBeLessThan(5_000);
    expect(statuses()).toEqual([403, 200]);
    expect(warnings).toEqual([`GitHub secondary rate limit on ${ROUTE}: waiting 2 s in-process, as Retry-After asks`]);
  });

  test('429 with a short retry-after: the same', async () => {
    gh.failNext(1, 429, { 'retry-after': '1' }); // the stand-in's body: GitHub's secondary-limit words
    const { ms, error } = await measure(probe().findCiRun());
    expect(error).toBeUndefined();
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(statuses()).toEqual([429, 200]);
    expect(warnings).toEqual([`GitHub secondary rate limit on ${ROUTE}: waiting 1 s in-process, as Retry-After asks`]);
  });

  test('a primary rate limit that resets within seconds is waited out too', async () => {
    const reset = Math.floor(Date.now() / 1000) + 1;
    gh.failNext(1, 403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) });
    const { error } = await measure(probe().findCiRun());
    expect(error).toBeUndefined();
    expect(Date.now()).toBeGreaterThanOrEqual(reset * 1000); // retried after the reset, as GitHub asks
    expect(statuses()).toEqual([403, 200]);
    expect(warnings).toEqual([
      expect.stringMatching(
        new RegExp(
          `^GitHub rate limit exhausted on ${escape(ROUTE)}: waiting \\d s in-process, as x-ratelimit-reset says$`,
        ),
      ),
    ]);
  });

  test('a primary rate limit resetting in an hour is not waited in-process: a durable wait until the reset', async () => {
    const reset = Math.floor(Date.now() / 1000) + 3600;
    gh.failNext(1, 403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) });
    const { ms, error } = await measure(probe().findCiRun());
    const failure = ensureApplicationFailure(error);
    expect(failure).toMatchObject({ type: 'RateLimited', nonRetryable: false });
    expect(failure.nextRetryDelay).toBeGreaterThan(3_590_000);
    expect(ms).toBeLessThan(1_000);
    expect(statuses()).toEqual([403]);
    expect(warnings).toEqual([]);
  });

  test.each([403, 429])(
    `%p with a Retry-After over ${IN_PROCESS_WAIT_MAX_S} s is neither waited nor retried in-process: the fault table's wait`,
    async (status) => {
      const retryAfter = IN_PROCESS_WAIT_MAX_S + 1;
      gh.failNext(1, status, { 'retry-after': String(retryAfter) }, SECONDARY);
      const { ms, error } = await measure(probe().findCiRun());
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect(error).toMatchObject({ type: 'RateLimited', nonRetryable: false, nextRetryDelay: retryAfter * 1_000 });
      expect(ms).toBeLessThan(1_000);
      expect(statuses()).toEqual([status]);
      expect(warnings).toEqual([]);
    },
  );

  test('only the first limit is waited in-process: a second one goes to the fault table', async () => {
    gh.failNext(2, 403, { 'retry-after': '1' }, SECONDARY);
    const { error } = await measure(probe().findCiRun());
    expect(error).toMatchObject({ type: 'RateLimited', nonRetryable: false, nextRetryDelay: 1_000 });
    expect(statuses()).toEqual([403, 403]);
    expect(warnings).toHaveLength(1);
  });
});

describe('5xx and network blips', () => {
  test('one 502 is absorbed in-process, and said once', async () => {
    gh.failNext(1, 502);
    const { ms, error } = await measure(probe().findCiRun());
    expect(error).toBeUndefined();
    expect(ms).toBeLessThan(2_000);
    expect(statuses()).toEqual([502, 200]);
    expect(warnings).toEqual([
      `GitHub at ${new URL(gh.url).host} failed (HTTP 502: Server Error): ${ROUTE} retried in-process in 250 ms (1 of ${IN_PROCESS_RETRIES})`,
    ]);
  });

  test("more 5xx than the in-process retries: the fault table's retryable Unavailable, for Temporal's backoff", async () => {
    gh.failNext(1 + IN_PROCESS_RETRIES, 503);
    const { error } = await measure(probe().findCiRun());
    expect(error).toBeInstanceOf(Unavailable);
    expect((error as Error).message).toMatch(/^GitHub at \S+ failed \(HTTP 503: No server is currently available/);
    expect(statuses()).toEqual(Array(1 + IN_PROCESS_RETRIES).fill(503));
    expect(warnings).toHaveLength(IN_PROCESS_RETRIES);
    expect(warnings[1]).toMatch(/ retried in-process in 1 s \(2 of 2\)$/);
    // The next request is answered normally: the stand-in's queue of faults is spent.
    await expect(probe().findCiRun()).resolves.toBeNull();
  });

  test("one request's retries do not count against the next one's", async () => {
    const { findCiRun } = probe(); // one client for both, as in the worker
    gh.failNext(1 + IN_PROCESS_RETRIES, 502);
    await expect(findCiRun()).rejects.toBeInstanceOf(Unavailable);
    gh.failNext(1, 502);
    const { ms, error } = await measure(findCiRun());
    expect(error).toBeUndefined();
    expect(ms).toBeLessThan(1_000); // the first retry's 250 ms, not the third's
    expect(warnings).toHaveLength(IN_PROCESS_RETRIES + 1);
    expect(warnings.at(-1)).toMatch(/ retried in-process in 250 ms \(1 of 2\)$/);
  });

  test('a permanent answer (401, 404, 422) is not retried in-process', async () => {
    for (const status of [401, 404, 422]) gh.failNext(1, status);
    for (const type of ['Unauthorized', 'NotFound', 'BadRequest'])
      await expect(probe().findCiRun()).rejects.toMatchObject({ type, nonRetryable: true });
    expect(statuses()).toEqual([401, 404, 422]);
    expect(warnings).toEqual([]);
  });

  test('connection refused is retried in-process, then Unreachable', async () => {
    const gone = `http://127.0.0.1:${await freePort()}`;
    const { ms, error } = await measure(probe(gone).findCiRun());
    expect(error).toBeInstanceOf(Unreachable);
    expect(ms).toBeGreaterThanOrEqual(1_200); // 250 ms, then 1 s
    expect(warnings).toEqual([
      expect.stringMatching(/^cannot reach GitHub at 127\.0\.0\.1:\d+ \(ECONNREFUSED\): .* \(1 of 2\)$/),
      expect.stringMatching(/^cannot reach GitHub at 127\.0\.0\.1:\d+ \(ECONNREFUSED\): .* \(2 of 2\)$/),
    ]);
  });
});

describe('pacing', () => {
  test('mutating requests are at least a second apart; reads are not spaced', async () => {
    const { octokit } = probe();
    const write = () =>
      measure(
        octokit.request('POST /repos/{owner}/{repo}/statuses/{sha}', {
          owner: OWNER,
          repo: REPO,
          sha: COMMIT,
          state: 'success',
        }),
      );
    const [first, second] = await Promise.all([write(), write()]);
    expect(Math.max(first.ms, second.ms)).toBeGreaterThanOrEqual(950);
    const reads = await Promise.all([1, 2, 3].map(() => measure(probe().findCiRun())));
    expect(Math.max(...reads.map((r) => r.ms))).toBeLessThan(900);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
