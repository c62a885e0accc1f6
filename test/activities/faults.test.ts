import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AggregateAuthenticationError, CredentialUnavailableError, type TokenCredential } from '@azure/identity';
import { ApplicationFailure, ensureApplicationFailure } from '@temporalio/common';
import { createActivities, registryDeps, type Activities } from '../../src/activities';
import { Unavailable } from '../../src/activities/faults';
import { IN_PROCESS_RETRIES, IN_PROCESS_WAIT_MAX_S } from '../../src/activities/octokit';
import { registrySteps } from '../../src/activities/registry';
import type { DeployConfig } from '../../src/config/schema';
import { createDeps } from '../../src/worker/deps';
import { freePort } from '../../harness/ports';
import { startSilentServer } from '../../harness/silent-server';
import { INITIAL_TAG, OWNER, REPO, startStack, type Stack } from '../../harness/stack';

/**
 * The fault table (src/activities/faults.ts), row by row, through the steps' real clients (Octokit,
 * the Azure registry SDK, fetch) against the stand-ins, the real registry, and tiny servers that
 * misbehave the way real ones do.
 */
const GITHUB_TOKEN = 'ghs_test_github_token';
const ARGOCD_TOKEN = 'argocd-test-token';
const COMMIT = 'c'.repeat(40);
const TAG = 'sha-0b0b0b0';

let stack: Stack;
let steps: Activities;

beforeAll(async () => {
  stack = await startStack();
  await stack.pushImages(INITIAL_TAG);
  steps = stepsFor(stack.config);
}, 120_000);
afterAll(() => stack?.stop());

/** The steps as the worker builds them (createDeps), for a config and the worker's environment. */
function stepsFor(config: DeployConfig, env: NodeJS.ProcessEnv = {}): Activities {
  return createActivities(createDeps(config, { GITHUB_TOKEN, ARGOCD_TOKEN, ...env }));
}
const withSection = <K extends keyof DeployConfig>(key: K, patch: Partial<DeployConfig[K]>): DeployConfig => ({
  ...stack.config,
  [key]: { ...stack.config[key], ...patch },
});

/**
 * The step's failure as Temporal records it: a plain error (a "retry" row) becomes a retryable
 * ApplicationFailure named after its class. No message may carry a token.
 */
async function verdict(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  const failure = ensureApplicationFailure(err);
  for (const secret of [GITHUB_TOKEN, ARGOCD_TOKEN, 'aad-access-token']) expect(failure.message).not.toContain(secret);
  return failure;
}
const retried = (type: string) => ({ type, nonRetryable: false, nextRetryDelay: undefined });
const permanentFailure = (type: string) => ({ type, nonRetryable: true });

describe('GitHub', () => {
  test('403 with x-ratelimit-remaining 0 (primary rate limit) waits until x-ratelimit-reset', async () => {
    const reset = Math.floor(Date.now() / 1000) + 90;
    stack.github.failNext(1, 403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) });
    const err = await verdict(steps.findCiRun({ commit: COMMIT }));
    expect(err).toMatchObject({
      type: 'RateLimited',
      nonRetryable: false,
      message: `GitHub rate limit exhausted until ${new Date(reset * 1000).toISOString().slice(11, 19)} UTC`,
    });
    expect(err.nextRetryDelay).toBeGreaterThan(85_000);
    expect(err.nextRetryDelay).toBeLessThanOrEqual(90_000);

    // A reset already past (clock skew): the client retries once at once (src/activities/octokit.ts),
    // then the table still waits a second rather than spinning.
    const asked = stack.github.requests.length;
    stack.github.failNext(2, 403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset - 3600) });
    expect(await verdict(steps.readPullRequest({ pr: 1 }))).toMatchObject({
      type: 'RateLimited',
      nonRetryable: false,
      nextRetryDelay: 1_000,
    });
    expect(stack.github.requests.slice(asked).map((r) => r.status)).toEqual([403, 403]);
  });

  test(`403 or 429 with a Retry-After over ${IN_PROCESS_WAIT_MAX_S} s (secondary rate limit) waits Retry-After`, async () => {
    stack.github.failNext(1, 403, { 'retry-after': '60' }, { message: 'You have exceeded a secondary rate limit.' });
    expect(await verdict(steps.findCiRun({ commit: COMMIT }))).toMatchObject({
      type: 'RateLimited',
      nonRetryable: false,
      nextRetryDelay: 60_000,
      message: 'GitHub secondary rate limit (HTTP 403): retrying after 1 min, as Retry-After asks',
    });
    stack.github.failNext(1, 429, { 'retry-after': '45' });
    expect(await verdict(steps.readPullRequest({ pr: 1 }))).toMatchObject({
      type: 'RateLimited',
      nonRetryable: false,
      nextRetryDelay: 45_000,
    });
  });

  test("a short Retry-After is waited out inside the request by the worker's client: the step succeeds", async () => {
    const asked = stack.github.requests.length;
    stack.github.failNext(1, 403, { 'retry-after': '2' }, { message: 'You have exceeded a secondary rate limit.' });
    const started = Date.now();
    expect(await steps.findCiRun({ commit: COMMIT })).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(stack.github.requests.slice(asked).map((r) => r.status)).toEqual([403, 200]);
  });

  test('a secondary rate limit without Retry-After waits a minute, as GitHub advises', async () => {
    stack.github.failNext(
      1,
      403,
      {},
      { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' },
    );
    expect(await verdict(steps.findCiRun({ commit: COMMIT }))).toMatchObject({
      type: 'RateLimited',
      nonRetryable: false,
      nextRetryDelay: 60_000,
      message: 'GitHub secondary rate limit (HTTP 403) without Retry-After: retrying after 1 min, as GitHub advises',
    });
  });

  test('401 is permanent and says what GITHUB_TOKEN must be', async () => {
    const err = await verdict(stepsFor(stack.config, { GITHUB_TOKEN: 'wrong' }).findCiRun({ commit: COMMIT }));
    expect(err).toMatchObject(permanentFailure('Unauthorized'));
    expect(err.message).toBe(
      `GitHub refused GITHUB_TOKEN reading the CI runs of ci.yml in ${OWNER}/${REPO} (HTTP 401: Bad credentials): the token is missing, wrong, expired or revoked. ` +
        'Set GITHUB_TOKEN to a token with contents: write and actions: read on the repository (pull requests: read for previews)',
    );
  });

  test('403 without rate-limit headers is permanent and names the permissions needed', async () => {
    stack.github.failNext(
      1,
      403,
      {},
      {
        message: 'Resource not accessible by integration',
        documentation_url: 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request',
        status: '403',
      },
    );
    const err = await verdict(steps.readPullRequest({ pr: 5 }));
    expect(err).toMatchObject(permanentFailure('Forbidden'));
    expect(err.message).toBe(
      `GitHub refused pull request #5 of ${OWNER}/${REPO} (HTTP 403: Resource not accessible by integration): GITHUB_TOKEN lacks a permission. ` +
        'It needs contents: write and actions: read on the repository (pull requests: read for previews); a fine-grained token must also list the repository',
    );
  });

  test('a token the server echoes is redacted from the message', async () => {
    stack.github.failNext(1, 401, {}, { message: `Bad credentials: token ${GITHUB_TOKEN} is revoked` });
    const err = await verdict(steps.findCiRun({ commit: COMMIT }));
    expect(err.message).toContain('(HTTP 401: Bad credentials: token [redacted] is revoked)');
  });

  test('404 names what is missing and the setting to check', async () => {
    const err = await verdict(steps.readPullRequest({ pr: 404 }));
    expect(err).toMatchObject({
      ...permanentFailure('NotFound'),
      message: `pull request #404 not found in ${OWNER}/${REPO}`,
    });
    const badWorkflow = stepsFor(withSection('ci', { workflow: 'nope.yml' }));
    expect((await verdict(badWorkflow.findCiRun({ commit: COMMIT }))).message).toMatch(
      /^CI workflow "nope.yml" not found in .*; check ci.workflow/,
    );
  });

  test('another 4xx is permanent; 5xx beyond the in-process retries is retried with backoff, as a plain error', async () => {
    stack.github.failNext(1, 422, {}, { message: 'Validation Failed' });
    expect(await verdict(steps.findCiRun({ commit: COMMIT }))).toMatchObject({
      ...permanentFailure('BadRequest'),
      message: `GitHub at ${new URL(stack.github.url).host} rejected the request for the CI runs of ci.yml in ${OWNER}/${REPO} (HTTP 422: Validation Failed)`,
    });
    stack.github.failNext(1 + IN_PROCESS_RETRIES, 502); // one blip the client absorbs itself (test/activities/octokit.test.ts)
    const thrown = await steps.readPullRequest({ pr: 1 }).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(Unavailable);
    expect(await verdict(Promise.reject(thrown))).toMatchObject({
      ...retried('Unavailable'),
      message: `GitHub at ${new URL(stack.github.url).host} failed (HTTP 502: Server Error)`,
    });
  });
});

describe('Argo CD', () => {
  test('403 for an application that does not exist: permanent for production, waiting when missingIsWaiting', async () => {
    const err = await verdict(steps.observeArgoApp({ revision: COMMIT, application: 'no-such-app' }));
    expect(err).toMatchObject(permanentFailure('ApplicationNotFound'));
    expect(err.message).toBe(
      `Argo CD at ${new URL(stack.argo.url).host}: no application "no-such-app", or ARGOCD_TOKEN may not read it (HTTP 403; Argo CD answers 403 for both). ` +
        "Check argocd.application (preview.application for previews) and that the token's account may get applications in its project",
    );
    expect(
      await steps.observeArgoApp({ revision: COMMIT, application: 'no-such-app', missingIsWaiting: true }),
    ).toMatchObject({ syncStatus: 'Missing', healthStatus: 'Missing' });
  });

  test('401 is permanent and says what ARGOCD_TOKEN must be', async () => {
    const err = await verdict(stepsFor(stack.config, { ARGOCD_TOKEN: 'wrong' }).observeArgoApp({ revision: COMMIT }));
    expect(err).toMatchObject(permanentFailure('Unauthorized'));
    expect(err.message).toMatch(
      /^Argo CD at 127\.0\.0\.1:\d+ refused ARGOCD_TOKEN \(HTTP 401: invalid session: token signature is invalid\): .*Set ARGOCD_TOKEN to an API token of an account that may get application "yt-summarizer-prod"$/,
    );
  });

  test('404 names the application and the setting', async () => {
    stack.argo.failNext(1, 404);
    expect(await verdict(steps.observeArgoApp({ revision: COMMIT }))).toMatchObject({
      ...permanentFailure('NotFound'),
      message: `Argo CD at ${new URL(stack.argo.url).host}: no application "yt-summarizer-prod"; check argocd.application (preview.application for previews)`,
    });
  });

  test('429 waits Retry-After; 503 and 408 are retried; another 4xx is permanent', async () => {
    stack.argo.failNext(1, 429, { 'retry-after': '30' });
    expect(await verdict(steps.observeArgoApp({ revision: COMMIT }))).toMatchObject({
      type: 'RateLimited',
      nonRetryable: false,
      nextRetryDelay: 30_000,
      message: `Argo CD at ${new URL(stack.argo.url).host} is rate limiting (HTTP 429): retrying after 30 s, as Retry-After asks`,
    });
    stack.argo.failNext(1, 503);
    expect(await verdict(steps.observeArgoApp({ revision: COMMIT }))).toMatchObject({
      ...retried('Unavailable'),
      message: `Argo CD at ${new URL(stack.argo.url).host} failed (HTTP 503: the server is currently unable to handle the request)`,
    });
    stack.argo.failNext(1, 408);
    expect(await verdict(steps.observeArgoApp({ revision: COMMIT }))).toMatchObject(retried('Unavailable'));
    stack.argo.failNext(1, 400);
    expect(await verdict(steps.observeArgoApp({ revision: COMMIT }))).toMatchObject({
      ...permanentFailure('BadRequest'),
      message: expect.stringContaining('(HTTP 400: invalid argument)'),
    });
    // The stand-in answers normally again (at the revision Argo CD runs, so no git is asked).
    expect(await steps.observeArgoApp({ revision: await stack.origin.head() })).toMatchObject({
      syncStatus: 'Synced',
      revisionContainsTarget: true,
    });
  });
});

/** A tiny HTTPS server with the test PKI's localhost certificate, logging what it was asked. */
async function httpsServer(handle: (req: IncomingMessage, res: ServerResponse) => void, address = '127.0.0.1') {
  const pki = process.env.TEST_PKI_DIR!;
  const requests: string[] = [];
  const server = createHttpsServer(
    { cert: readFileSync(join(pki, 'server.pem')), key: readFileSync(join(pki, 'server-key.pem')) },
    (req, res) => {
      requests.push(`${req.method} ${req.url}`);
      handle(req, res);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const host = `${address}:${(server.address() as AddressInfo).port}`;
  return {
    host,
    endpoint: `https://${host}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
const answer =
  (
    status: number,
    headers: Record<string, string> = {},
    body: unknown = { errors: [{ code: 'UNKNOWN', message: 'boom' }] },
  ) =>
  (_: IncomingMessage, res: ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
const registryAt = (endpoint: string) => withSection('registry', { endpoint });

describe('registry', () => {
  test('401 asking for Basic authentication is permanent at once, naming the registry and the auth it asked for', async () => {
    const registry = await httpsServer(
      answer(
        401,
        { 'www-authenticate': 'Basic realm="x"' },
        { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
      ),
    );
    try {
      const err = await verdict(stepsFor(registryAt(registry.endpoint)).validateImages({ tag: TAG }));
      expect(err).toMatchObject(permanentFailure('RegistryAuthUnsupported'));
      expect(err.message).toBe(
        `registry ${registry.host} asks for Basic authentication; gitops-deployer authenticates with Azure AD tokens (ACR) or anonymously, never with a user name and password. ` +
          'Point registry.endpoint at an Azure Container Registry, or allow anonymous pulls on this registry',
      );
      expect(registry.requests.filter((r) => r.includes('yt-summarizer-api'))).toHaveLength(1);
    } finally {
      await registry.close();
    }
  });

  test('5xx is retried by Temporal, not inside the SDK: one request per image', async () => {
    const registry = await httpsServer(
      answer(503, {}, { errors: [{ code: 'UNAVAILABLE', message: 'service unavailable' }] }),
    );
    try {
      const err = await verdict(stepsFor(registryAt(registry.endpoint)).validateImages({ tag: TAG }));
      expect(err).toMatchObject({
        ...retried('Unavailable'),
        message: expect.stringMatching(new RegExp(`^registry ${registry.host} failed \\(HTTP 503: `)),
      });
      expect(registry.requests.filter((r) => r.includes('yt-summarizer-api'))).toEqual([
        `GET /v2/yt-summarizer-api/manifests/${TAG}`,
      ]);
    } finally {
      await registry.close();
    }
  });

  test("401/403 without a challenge is permanent: the worker's identity needs AcrPull", async () => {
    const registry = await httpsServer(
      answer(403, {}, { errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] }),
    );
    try {
      const err = await verdict(stepsFor(registryAt(registry.endpoint)).validateImages({ tag: TAG }));
      expect(err).toMatchObject(permanentFailure('Unauthorized'));
      expect(err.message).toMatch(
        new RegExp(
          `^registry ${registry.host} refused the worker's credentials for ${registry.host}/yt-summarizer-\\w+:${TAG} \\(HTTP 403: requested access to the resource is denied\\): the worker's Azure identity needs the AcrPull role on the registry$`,
        ),
      );
    } finally {
      await registry.close();
    }
  });

  test('429 waits Retry-After; another 4xx is permanent', async () => {
    const registry = await httpsServer(
      answer(429, { 'retry-after': '20' }, { errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] }),
    );
    try {
      expect(await verdict(stepsFor(registryAt(registry.endpoint)).validateImages({ tag: TAG }))).toMatchObject({
        type: 'RateLimited',
        nonRetryable: false,
        nextRetryDelay: 20_000,
        message: `registry ${registry.host} is rate limiting (HTTP 429): retrying after 20 s, as Retry-After asks`,
      });
    } finally {
      await registry.close();
    }
    const bad = await httpsServer(
      answer(400, {}, { errors: [{ code: 'NAME_INVALID', message: 'invalid repository name' }] }),
    );
    try {
      expect(await verdict(stepsFor(registryAt(bad.endpoint)).validateImages({ tag: TAG }))).toMatchObject({
        ...permanentFailure('BadRequest'),
        message: expect.stringContaining('(HTTP 400: invalid repository name)'),
      });
    } finally {
      await bad.close();
    }
  });

  describe('a registry that asks for a Bearer token (ACR token exchange)', () => {
    const challenge = (host: string) =>
      `Bearer realm="https://${host}/oauth2/token",service="${host.split(':')[0]}",scope="repository:yt-summarizer-api:pull"`;
    let registry: Awaited<ReturnType<typeof httpsServer>>;
    beforeAll(async () => {
      registry = await httpsServer((req, res) => {
        if (req.url?.startsWith('/oauth2/'))
          return answer(404, {}, { errors: [{ code: 'NOT_FOUND', message: 'page not found' }] })(req, res);
        answer(
          401,
          { 'www-authenticate': challenge(registry.host) },
          { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
        )(req, res);
      });
    });
    afterAll(() => registry.close());

    test('with no Azure credential available: permanent, naming the identities that would do', async () => {
      const none: TokenCredential = {
        getToken: async () => {
          throw new AggregateAuthenticationError(
            [
              new CredentialUnavailableError(
                'EnvironmentCredential is unavailable. Environment variables are not fully configured.',
              ),
            ],
            'ChainedTokenCredential authentication failed.',
          );
        },
      };
      const { validateImages } = registrySteps(registryDeps(registryAt(registry.endpoint), none));
      const err = await verdict(validateImages({ tag: TAG }));
      expect(err).toMatchObject(permanentFailure('RegistryCredentials'));
      expect(err.message).toBe(
        `registry ${registry.host} asks for a token and the worker has no Azure credential (ChainedTokenCredential authentication failed. CredentialUnavailableError: EnvironmentCredential is unavailable. Environment variables are not fully configured.). ` +
          'Give the worker an Azure identity with the AcrPull role: workload identity, managed identity, AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or az login',
      );
    });

    test('that is not an ACR (no /oauth2/exchange): permanent, not "image not found"', async () => {
      const aad: TokenCredential = {
        getToken: async () => ({ token: 'aad-access-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
      };
      const { validateImages } = registrySteps(registryDeps(registryAt(registry.endpoint), aad));
      const err = await verdict(validateImages({ tag: TAG }));
      expect(err).toMatchObject(permanentFailure('RegistryAuthUnsupported'));
      expect(err.message).toMatch(
        new RegExp(
          `^registry ${registry.host} asks for a token but is not an Azure Container Registry \\(/oauth2/exchange answered 404\\); gitops-deployer authenticates with Azure AD tokens \\(ACR\\) or anonymously`,
        ),
      );
    });
  });

  test('a certificate for another host is permanent, with the CA advice', async () => {
    // The test certificate names localhost, 127.0.0.1 and ::1, not 127.0.0.2.
    const registry = await httpsServer(answer(200), '127.0.0.2');
    try {
      const err = await verdict(stepsFor(registryAt(registry.endpoint)).validateImages({ tag: TAG }));
      expect(err).toMatchObject({
        ...permanentFailure('TlsUntrusted'),
        message: expect.stringMatching(
          new RegExp(
            `^registry ${registry.host}: TLS failed \\(ERR_TLS_CERT_ALTNAME_INVALID\\): .*NODE_EXTRA_CA_CERTS`,
          ),
        ),
      });
    } finally {
      await registry.close();
    }
  });

  test('the real registry: a missing image is named, not retried', async () => {
    expect(await verdict(steps.validateImages({ tag: 'sha-fffffff' }))).toMatchObject({
      ...permanentFailure('ImageNotFound'),
      message: expect.stringMatching(
        new RegExp(`^image not found: ${stack.registry.host}/yt-summarizer-api:sha-fffffff, `),
      ),
    });
  });
});

describe('every service', () => {
  test('unreachable (ECONNREFUSED): retried, naming the host', async () => {
    const port = await freePort(); // nothing listens there
    const gone = `127.0.0.1:${port}`;
    const config = {
      ...stack.config,
      github: { ...stack.config.github, apiUrl: `http://${gone}` },
      argocd: { ...stack.config.argocd, server: `http://${gone}` },
      registry: { ...stack.config.registry, endpoint: `https://${gone}` },
    };
    const s = stepsFor(config);
    expect(await verdict(s.findCiRun({ commit: COMMIT }))).toMatchObject({
      ...retried('Unreachable'),
      message: `cannot reach GitHub at ${gone} (ECONNREFUSED)`,
    });
    expect(await verdict(s.observeArgoApp({ revision: COMMIT }))).toMatchObject({
      ...retried('Unreachable'),
      message: `cannot reach Argo CD at ${gone} (ECONNREFUSED)`,
    });
    expect(await verdict(s.validateImages({ tag: TAG }))).toMatchObject({
      ...retried('Unreachable'),
      message: `cannot reach registry ${gone} (ECONNREFUSED)`,
    });
  });

  test('a server that accepts the connection and never answers: each request gives up after 15 s, retried', async () => {
    const silent = await startSilentServer();
    const { host } = silent;
    // A registry that challenges, and whose token exchange (a request the SDK sends without the step's signal) never answers.
    const acr = await httpsServer((req, res) => {
      if (req.url?.startsWith('/oauth2/')) return; // no answer
      answer(401, {
        'www-authenticate': `Bearer realm="https://${acr.host}/oauth2/token",service="127.0.0.1",scope="repository:yt-summarizer-api:pull"`,
      })(req, res);
    });
    const aad: TokenCredential = {
      getToken: async () => ({ token: 'aad-access-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    try {
      const config = {
        ...stack.config,
        github: { ...stack.config.github, apiUrl: `http://${host}` },
        argocd: { ...stack.config.argocd, server: `http://${host}` },
        registry: { ...stack.config.registry, endpoint: `https://${host}` },
      };
      const s = stepsFor(config);
      const started = Date.now();
      const [github, argo, registry, exchange] = await Promise.all([
        verdict(s.findCiRun({ commit: COMMIT })),
        verdict(s.observeArgoApp({ revision: COMMIT })),
        verdict(s.validateImages({ tag: TAG })),
        verdict(registrySteps(registryDeps(registryAt(acr.endpoint), aad)).validateImages({ tag: TAG })),
      ]);
      const elapsed = Date.now() - started;
      expect(github).toMatchObject({ ...retried('Timeout'), message: `GitHub at ${host} did not answer within 15 s` });
      expect(argo).toMatchObject({ ...retried('Timeout'), message: `Argo CD at ${host} did not answer within 15 s` });
      expect(registry).toMatchObject({ ...retried('Timeout'), message: `registry ${host} did not answer within 15 s` });
      expect(exchange).toMatchObject({
        ...retried('Timeout'),
        message: `registry ${acr.host} did not answer within 15 s`,
      });
      expect(acr.requests.filter((r) => r.startsWith('POST /oauth2/exchange'))).toHaveLength(2); // one per image, unanswered
      expect(elapsed).toBeGreaterThanOrEqual(14_500);
      expect(elapsed).toBeLessThan(30_000);
    } finally {
      await Promise.all([silent.close(), acr.close()]);
    }
  }, 60_000);
});
