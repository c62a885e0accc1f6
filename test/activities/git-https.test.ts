import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { RepoCache } from '../../src/activities/git';
import {
  gitFailure,
  isAuthFailure,
  isLostPushRace,
  isMissingRef,
  isRefusedByServer,
} from '../../src/activities/git-errors';
import { overlayDeps } from '../../src/activities';
import { overlaySteps } from '../../src/activities/overlay';
import { configSchema } from '../../src/config/schema';
import { shaTag } from '../../src/plan/tags';
import { testCaFile } from '../../harness/git-server';
import { createOrigin, git, type Origin } from '../../harness/origin';

/** RepoCache and the overlay step against a real HTTPS git server that takes a token the way GitHub does. */
const TOKEN = 'ghs_https_test_token_5f1c2e';
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
const AUTHOR = { name: 'gitops-deployer', email: 'deployer@example.com' };

let origin: Origin;
let root: string;
let caBefore: string | undefined;
let caches = 0;

beforeAll(async () => {
  // As in production: git learns of a private CA from the worker's environment.
  caBefore = process.env.GIT_SSL_CAINFO;
  process.env.GIT_SSL_CAINFO = testCaFile();
  root = mkdtempSync(join(tmpdir(), 'git-https-'));
  origin = await createOrigin({ root, https: { token: TOKEN, path: 'yt-summarizer-org/yt-summarizer.git' } });
});
afterAll(async () => {
  await origin?.cleanup();
  rmSync(root, { recursive: true, force: true });
  if (caBefore === undefined) delete process.env.GIT_SSL_CAINFO;
  else process.env.GIT_SSL_CAINFO = caBefore;
});
afterEach(() => {
  origin.server!.setPreReceive(undefined);
  origin.server!.delayMs = 0;
  origin.server!.access = 'write';
});

/** A RepoCache with its own cache dir, so each test starts from a fresh clone; null: no token. */
function repoCache(token: string | null = TOKEN): RepoCache {
  return new RepoCache({
    cloneUrl: origin.httpsUrl!,
    cacheDir: join(root, `cache-${++caches}`),
    branch: 'main',
    author: AUTHOR,
    token: token ?? undefined,
  });
}

const config = configSchema.parse({
  repository: { owner: 'yt-summarizer-org', name: 'yt-summarizer' },
  ci: { workflow: 'ci.yml' },
  registry: { endpoint: 'https://acrytsummprd.azurecr.io' },
  images: [
    { name: 'yt-summarizer-api', repository: 'yt-summarizer-api' },
    { name: 'yt-summarizer-workers', repository: 'yt-summarizer-workers' },
  ],
  argocd: { server: 'https://argocd.invalid', application: 'yt-summarizer-prod' },
});

async function failure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

/** A code merge on origin's main, and the deploy of its tag. */
async function merge(label: string) {
  const commit = await origin.commit({ 'services/api/main.py': `print(${JSON.stringify(label)})\n` }, `feat: ${label}`);
  return { kind: 'deploy' as const, tag: shaTag(commit), commit, workflowId: `wf-${label}` };
}

describe('RepoCache over HTTPS with a token', () => {
  test('clones, fetches and pushes, authenticating every request as x-access-token', async () => {
    const repo = repoCache();
    const seen = origin.server!.requests.length;
    await repo.exclusive((g) => repo.fetchMain(g));
    const later = await origin.commit({ 'docs/later.md': 'later\n' }, 'docs: later');
    const pushed = await repo.exclusive(async (g) => {
      await repo.fetchMain(g);
      expect((await g.revparse([repo.remoteMain])).trim()).toBe(later);
      await g.raw(['checkout', '--force', '-B', 'work', repo.remoteMain]);
      writeFileSync(join(repo.dir, 'docs/pushed.md'), 'pushed\n');
      await g.add('docs/pushed.md');
      await g.raw(['commit', '-m', 'docs: pushed over https']);
      await g.raw(['push', 'origin', 'HEAD:refs/heads/main']);
      return (await g.revparse(['HEAD'])).trim();
    });
    expect(await origin.head()).toBe(pushed);

    const requests = origin.server!.requests.slice(seen);
    expect(requests.some((r) => r.url.includes('service=git-upload-pack'))).toBe(true);
    expect(requests.some((r) => r.method === 'POST' && r.url.endsWith('/git-receive-pack') && r.status === 200)).toBe(
      true,
    );
    expect(requests.every((r) => r.user === 'x-access-token' && r.status === 200)).toBe(true);
  });

  test('the network timeouts reach git through the same environment', async () => {
    const repo = repoCache();
    const [limit, time] = await repo.exclusive((g) =>
      Promise.all([g.raw(['config', '--get', 'http.lowSpeedLimit']), g.raw(['config', '--get', 'http.lowSpeedTime'])]),
    );
    expect([limit.trim(), time.trim()]).toEqual(['1000', '20']);
  });

  test('a wrong token fails the clone permanently, naming the origin, without retrying in git', async () => {
    const repo = repoCache('ghs_wrong_token');
    const seen = origin.server!.requests.length;
    const err = await failure(repo.exclusive((g) => repo.fetchMain(g)));
    expect(err).toMatchObject({ type: 'GitAuthFailed', nonRetryable: true });
    expect(err.message).toMatch(/^the origin refused the token: git clone of /);
    expect(err.message).toContain(origin.httpsUrl!);
    expect(err.message).toMatch(/GITHUB_TOKEN.*contents: write/);
    expect(err.message).not.toContain('ghs_wrong_token');
    // git asked once and gave up (no prompt): one 401, no loop.
    expect(origin.server!.requests.slice(seen).map((r) => r.status)).toEqual([401]);
    expect(existsSync(repo.dir)).toBe(false); // no half clone left behind
  });

  test('no token at all is the same permanent failure', async () => {
    const err = await failure(repoCache(null).exclusive(async () => undefined));
    expect(err).toMatchObject({ type: 'GitAuthFailed', nonRetryable: true });
    expect(err.message).toMatch(/^the origin refused the token: git clone of .*could not read Username/);
  });

  test('an origin whose certificate git does not trust: permanent, saying to give the worker the CA', async () => {
    const ca = process.env.GIT_SSL_CAINFO;
    process.env.GIT_SSL_CAINFO = '/etc/ssl/certs/ca-certificates.crt'; // the system's CAs only: not the test CA
    try {
      const err = await failure(repoCache().exclusive(async () => undefined));
      expect(err).toMatchObject({ type: 'TlsUntrusted', nonRetryable: true });
      expect(err.message).toMatch(
        /^git clone of .* failed: git does not trust the origin's TLS certificate .*GIT_SSL_CAINFO/,
      );
    } finally {
      process.env.GIT_SSL_CAINFO = ca;
    }
  });

  test('a token without write access fails the push permanently, with the advice', async () => {
    const repo = repoCache();
    const steps = overlaySteps(overlayDeps(config, repo));
    const change = await merge('read-only');
    const head = await origin.head();
    origin.server!.access = 'read';
    const err = await failure(steps.updateOverlay(change));
    expect(err).toMatchObject({ type: 'GitAuthFailed', nonRetryable: true });
    expect(err.message).toMatch(/^the origin refused the token: git push to main of /);
    expect(err.message).toContain('Permission to yt-summarizer-org/yt-summarizer.git denied to x-access-token'); // the server's words
    expect(err.message).toContain('contents: write');
    expect(await origin.head()).toBe(head);
  });
});

describe('a push the server declines', () => {
  test('a pre-receive hook: permanent PushRefused carrying what the hook said, pushed once', async () => {
    const repo = repoCache();
    const steps = overlaySteps(overlayDeps(config, repo));
    const change = await merge('frozen');
    const head = await origin.head();
    const pushes: string[] = [];
    origin.server!.setPreReceive((updates) => {
      pushes.push(...updates.map((u) => u.ref));
      return updates.some((u) => u.ref === 'refs/heads/main')
        ? 'change freeze: production deploys are blocked until 18:00 UTC (CHG-1234)'
        : undefined;
    });
    const err = await failure(steps.updateOverlay(change));
    expect(err).toMatchObject({ type: 'PushRefused', nonRetryable: true });
    expect(err.message).toContain('change freeze: production deploys are blocked until 18:00 UTC (CHG-1234)');
    expect(err.message).toContain('pre-receive hook declined');
    expect(err.message).toContain(`git push to main of ${origin.httpsUrl}`);
    expect(pushes).toEqual(['refs/heads/main']);
    expect(await origin.head()).toBe(head);

    // The same step goes through once the server lets it.
    origin.server!.setPreReceive(undefined);
    const result = await steps.updateOverlay(change);
    expect(result).toMatchObject({ outcome: 'committed' });
    expect(await origin.head()).toBe(result.overlayCommit);
  });

  test("a hook script's message (GitHub's GH006 wording) is carried the same way", async () => {
    const steps = overlaySteps(overlayDeps(config, repoCache()));
    origin.server!.setPreReceive(
      '#!/bin/sh\necho "error: GH006: Protected branch update failed for refs/heads/main." >&2\necho "error: Changes must be made through a pull request." >&2\nexit 1\n',
    );
    const err = await failure(steps.updateOverlay(await merge('protected')));
    expect(err).toMatchObject({ type: 'PushRefused', nonRetryable: true });
    expect(err.message).toContain(
      'error: GH006: Protected branch update failed for refs/heads/main.\nerror: Changes must be made through a pull request.',
    );
  });
});

describe('the token stays secret', () => {
  /** Every process's argument list, keyed by pid. */
  function commandLines(): Map<string, string> {
    const lines = new Map<string, string>();
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        lines.set(pid, readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
      } catch {
        // gone meanwhile
      }
    }
    return lines;
  }

  /** Every file of a .git directory but its objects, as text. */
  function gitFiles(dir: string): Array<[string, string]> {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((path) => !path.startsWith('objects') && statSync(join(dir, path)).isFile())
      .map((path) => [path, readFileSync(join(dir, path), 'latin1')]);
  }

  test('in no argument list of git or its helpers while a fetch runs, no .git file, no request URL', async () => {
    const repo = repoCache();
    await repo.exclusive((g) => repo.fetchMain(g));
    await origin.commit({ 'docs/slow.md': 'slow\n' }, 'docs: slow');
    const seen = origin.server!.requests.length;
    origin.server!.delayMs = 700; // each request of the fetch waits: git and git-remote-https sit there meanwhile

    const gits = new Map<string, string>();
    let leaked: string[] = [];
    let fetching = true;
    const fetched = repo.exclusive((g) => repo.fetchMain(g)).finally(() => (fetching = false));
    while (fetching) {
      for (const [pid, line] of commandLines()) {
        if (line.includes(TOKEN) || line.includes(BASIC)) leaked.push(line);
        if (/\bgit\b|git-remote-https|remote-https/.test(line)) gits.set(pid, line);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await fetched;
    leaked = leaked.map((line) => line.replace(TOKEN, '<token>'));
    expect(leaked).toEqual([]);
    // The scan saw the processes it is about: the fetch, and its HTTPS helper talking to the server.
    const lines = [...gits.values()];
    expect(lines.some((line) => /^git .*fetch origin/.test(line))).toBe(true);
    expect(lines.some((line) => line.includes(`remote-https origin ${origin.httpsUrl}`))).toBe(true);

    for (const [path, text] of gitFiles(join(repo.dir, '.git'))) {
      expect({ path, token: text.includes(TOKEN) || text.includes(BASIC) }).toEqual({ path, token: false });
    }
    expect(readFileSync(join(repo.dir, '.git/config'), 'utf8')).toContain(`url = ${origin.httpsUrl}`);

    const requests = origin.server!.requests.slice(seen);
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) expect(request).toMatchObject({ user: 'x-access-token', status: 200 });
    expect(requests.filter((r) => r.url.includes(TOKEN) || r.url.includes(BASIC))).toEqual([]);
  });
});

describe('RepoCache after a crash', () => {
  test('the first open in a process removes the lock files a killed git left; later opens leave locks alone', async () => {
    const repo = repoCache();
    await repo.exclusive((g) => repo.fetchMain(g));
    const locks = ['.git/index.lock', '.git/HEAD.lock', `.git/${repo.remoteMain}.lock`];
    for (const lock of locks) writeFileSync(join(repo.dir, lock), '');

    // A new worker process: a fresh module, whose first open finds the locks.
    let Fresh!: typeof RepoCache;
    jest.isolateModules(
      () =>
        ({ RepoCache: Fresh } =
          jest.requireActual<typeof import('../../src/activities/git')>('../../src/activities/git')),
    );
    const restarted = new Fresh({
      cloneUrl: origin.httpsUrl!,
      cacheDir: join(root, `cache-${caches}`),
      branch: 'main',
      author: AUTHOR,
      token: TOKEN,
    });
    expect(restarted.dir).toBe(repo.dir);
    const later = await origin.commit({ 'docs/after-crash.md': 'x\n' }, 'docs: after a crash');
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    await restarted.exclusive(async (g) => {
      await restarted.fetchMain(g); // needs refs/remotes/origin/main.lock gone
      await g.raw(['checkout', '--force', '-B', 'gitops-deployer', restarted.remoteMain]); // needs index.lock and HEAD.lock gone
    });
    for (const lock of locks) expect(existsSync(join(repo.dir, lock))).toBe(false);
    expect(warn.mock.calls).toEqual([
      [
        `git cache ${repo.dir}: removed lock files left by a killed git: HEAD.lock, index.lock, refs/remotes/origin/main.lock`,
      ],
    ]);
    warn.mockRestore();
    expect((await git(repo.dir, ['rev-parse', 'HEAD'])).trim()).toBe(later);

    // Within the process the locks may be a live git's: no more clearing.
    writeFileSync(join(repo.dir, '.git/index.lock'), '');
    await restarted.exclusive((g) => g.raw(['--version']));
    expect(existsSync(join(repo.dir, '.git/index.lock'))).toBe(true);
    rmSync(join(repo.dir, '.git/index.lock'));
  });

  test("a cache another live process holds keeps its lock files: that process's git may be using them", async () => {
    const repo = repoCache();
    await repo.exclusive((g) => repo.fetchMain(g));
    writeFileSync(join(repo.dir, '.git/index.lock'), '');
    // The parent process is alive and is not this one: it stands for a second worker on the same cache.
    writeFileSync(`${repo.dir}.owner`, `${process.ppid}\n`);
    let Fresh!: typeof RepoCache;
    jest.isolateModules(
      () =>
        ({ RepoCache: Fresh } =
          jest.requireActual<typeof import('../../src/activities/git')>('../../src/activities/git')),
    );
    const second = new Fresh({
      cloneUrl: origin.httpsUrl!,
      cacheDir: join(root, `cache-${caches}`),
      branch: 'main',
      author: AUTHOR,
      token: TOKEN,
    });
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    await second.exclusive((g) => g.raw(['--version']));
    expect(warn.mock.calls).toEqual([
      [
        `git cache ${repo.dir} is in use by process ${process.ppid} too: give each worker process a git.cacheDir of its own; stale lock files are left alone`,
      ],
    ]);
    warn.mockRestore();
    expect(existsSync(join(repo.dir, '.git/index.lock'))).toBe(true);
    rmSync(join(repo.dir, '.git/index.lock'));
  });
});

describe('the test git server', () => {
  test('takes gzipped fetch negotiations and chunked multi-megabyte pushes', async () => {
    const other = mkdtempSync(join(root, 'client-'));
    // Many branches make the clone's want list exceed 1 kB, which git sends gzipped.
    const head = await origin.head();
    for (let i = 0; i < 40; i++) await git(origin.bareDir, ['update-ref', `refs/heads/many/branch-${i}`, head]);
    const env = {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${BASIC}`,
    };
    const client = (args: string[]) =>
      new Promise<void>((resolve, reject) => {
        execFile(
          'git',
          ['-c', 'user.name=t', '-c', 'user.email=t@x', ...args],
          { cwd: other, env: { ...process.env, ...env, GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 64 << 20 },
          (err, _out, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve()),
        );
      });
    const seen = origin.server!.requests.length;
    await client(['clone', '-q', origin.httpsUrl!, 'clone']);
    writeFileSync(join(other, 'clone/big.bin'), randomBytes(3 << 20)); // incompressible: a >1 MB pack, sent chunked
    await client(['-C', 'clone', 'add', 'big.bin']);
    await client(['-C', 'clone', 'commit', '-q', '-m', 'big']);
    await client(['-C', 'clone', 'push', '-q', 'origin', 'HEAD:refs/heads/big']);

    const requests = origin.server!.requests.slice(seen);
    expect(requests.some((r) => r.method === 'POST' && r.encoding === 'gzip' && r.status === 200)).toBe(true);
    expect(requests.some((r) => r.url.endsWith('/git-receive-pack') && r.bytes > 3 << 20 && r.status === 200)).toBe(
      true,
    );
    expect((await git(origin.bareDir, ['cat-file', '-s', 'refs/heads/big:big.bin'])).trim()).toBe(String(3 << 20));
    for (let i = 0; i < 40; i++) await git(origin.bareDir, ['update-ref', '-d', `refs/heads/many/branch-${i}`]);
    await git(origin.bareDir, ['update-ref', '-d', 'refs/heads/big']);
  });
});

describe('git error predicates, on what git prints for GitHub', () => {
  const to = 'To https://github.com/yt-summarizer-org/yt-summarizer.git';
  const failedToPush = "error: failed to push some refs to 'https://github.com/yt-summarizer-org/yt-summarizer.git'";
  const cases: Array<[string, string, { race: boolean; refused: boolean; auth: boolean }]> = [
    [
      'GH006 branch protection',
      `remote: error: GH006: Protected branch update failed for refs/heads/main.\nremote: error: Changes must be made through a pull request.\n${to}\n ! [remote rejected] HEAD -> main (protected branch hook declined)\n${failedToPush}`,
      { race: false, refused: true, auth: false },
    ],
    [
      'GH013 rulesets',
      `remote: error: GH013: Repository rule violations found for refs/heads/main.\n${to}\n ! [remote rejected] HEAD -> main (push declined due to repository rule violations)\n${failedToPush}`,
      { race: false, refused: true, auth: false },
    ],
    [
      'a branch that moved',
      `${to}\n ! [rejected]        HEAD -> main (fetch first)\n${failedToPush}\nhint: Updates were rejected because the remote contains work that you do\nhint: not have locally.`,
      { race: true, refused: false, auth: false },
    ],
    [
      'a lease that no longer holds',
      `${to}\n ! [rejected]        HEAD -> gitops-deployer/preview-5 (stale info)\n${failedToPush}`,
      { race: true, refused: false, auth: false },
    ],
    [
      "the server's ref update lost a race",
      `remote: error: cannot lock ref 'refs/heads/main': is at 1111111 but expected 2222222\n${to}\n ! [remote rejected] HEAD -> main (failed to update ref)\n${failedToPush}`,
      { race: true, refused: false, auth: false },
    ],
    [
      'receive.denyNonFastForwards is policy, not a race',
      `remote: error: denying non-fast-forward refs/heads/p (you should pull first)\n${to}\n ! [remote rejected] HEAD -> p (non-fast-forward)\n${failedToPush}`,
      { race: false, refused: true, auth: false },
    ],
    [
      "a hook's words are not git's",
      `remote: fetch first, then rebase onto release/2024\n${to}\n ! [remote rejected] HEAD -> main (pre-receive hook declined)\n${failedToPush}`,
      { race: false, refused: true, auth: false },
    ],
    [
      'no credentials',
      "fatal: could not read Username for 'https://github.com': terminal prompts disabled",
      { race: false, refused: false, auth: true },
    ],
    [
      'a wrong password',
      "remote: Invalid username or password.\nfatal: Authentication failed for 'https://github.com/yt-summarizer-org/yt-summarizer.git/'",
      { race: false, refused: false, auth: true },
    ],
    [
      'a token without contents: write',
      "remote: Write access to repository not granted.\nfatal: unable to access 'https://github.com/yt-summarizer-org/yt-summarizer.git/': The requested URL returned error: 403",
      { race: false, refused: false, auth: true },
    ],
    [
      'a server error',
      'error: RPC failed; HTTP 500 curl 22 The requested URL returned error: 500\nfatal: expected flush after ref listing',
      { race: false, refused: false, auth: false },
    ],
    [
      'a network error',
      "fatal: unable to access 'https://github.com/yt-summarizer-org/yt-summarizer.git/': Could not resolve host: github.com",
      { race: false, refused: false, auth: false },
    ],
  ];
  test.each(cases)('%s', (_, text, expected) => {
    const err = new Error(text);
    expect({ race: isLostPushRace(err), refused: isRefusedByServer(err), auth: isAuthFailure(err) }).toEqual(expected);
  });

  test('gitFailure: permanent for the token, the policy, a missing branch; the error itself for a retry, credentials stripped', () => {
    const thrown = (text: string, branch?: string) => {
      try {
        gitFailure(new Error(text), {
          origin: 'https://bot:s3cret@github.com/o/r.git',
          branch,
          action: branch ? 'fetch' : 'push',
        });
      } catch (err) {
        return err as Error & { type?: string; nonRetryable?: boolean };
      }
      throw new Error('gitFailure returned');
    };
    expect(thrown(cases[7]![1])).toMatchObject({ type: 'GitAuthFailed', nonRetryable: true });
    expect(thrown(cases[0]![1])).toMatchObject({ type: 'PushRefused', nonRetryable: true });
    expect(thrown(cases[0]![1]).message).toContain(
      'error: GH006: Protected branch update failed for refs/heads/main.\nerror: Changes must be made through a pull request.',
    );
    // A hook may say anything: its decline stays a decline.
    expect(
      thrown(
        'remote: Authentication failed: no change ticket linked\n ! [remote rejected] HEAD -> main (pre-receive hook declined)',
        undefined,
      ),
    ).toMatchObject({ type: 'PushRefused' });
    expect(isMissingRef(new Error("fatal: couldn't find remote ref refs/heads/gone"))).toBe(true);
    expect(thrown("fatal: couldn't find remote ref refs/heads/gone", 'gone')).toMatchObject({
      type: 'BranchNotFound',
      nonRetryable: true,
      message: 'branch gone no longer exists in https://github.com/o/r.git',
    });

    const network = thrown(
      "fatal: unable to access 'https://bot:s3cret@github.com/o/r.git/': Could not resolve host: github.com",
    );
    expect(network).not.toBeInstanceOf(ApplicationFailure);
    expect(network.message).toBe(
      "fatal: unable to access 'https://github.com/o/r.git/': Could not resolve host: github.com",
    );
    for (const text of cases.map(([, t]) => t))
      expect(thrown(text.replace(/https:\/\/github\.com/g, 'https://bot:s3cret@github.com')).message).not.toContain(
        's3cret',
      );
  });
});
