import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { permanent } from './failures';
import { gitFailure, isLostPushRace, isMissingRef, withoutCredentials } from './git-errors';
import { stepLog } from './log';

/**
 * What git inherits from the worker's environment; nothing else (no secrets of the worker). A
 * private CA for the origin (GitHub Enterprise behind a corporate CA) comes from the worker's
 * environment: GIT_SSL_CAINFO / GIT_SSL_CAPATH (git's own), or SSL_CERT_FILE / SSL_CERT_DIR for
 * builds of libcurl that honour OpenSSL's defaults.
 */
const INHERITED_ENV = [
  'PATH',
  'HOME',
  'LANG',
  'TMPDIR',
  'SSH_AUTH_SOCK',
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'NO_PROXY',
  'https_proxy',
  'http_proxy',
  'no_proxy',
  'GIT_SSL_CAINFO',
  'GIT_SSL_CAPATH',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
/** A transfer slower than 1 kB/s for 20 s fails (and is retried) instead of holding the clone's queue forever. */
const NETWORK_TIMEOUTS: Array<[string, string]> = [
  ['http.lowSpeedLimit', '1000'],
  ['http.lowSpeedTime', '20'],
];
/** Pushes that lose a race with other pushes before a step gives up and leaves it to its retry policy. */
const PUSH_ATTEMPTS = 5;
/** Cache dirs whose stale locks this process has cleared; see `removeStaleLocks`. */
const recovered = new Set<string>();

/** The full message of a commit the clone has. */
export function commitMessage(git: SimpleGit, commit: string): Promise<string> {
  return git.raw(['log', '-1', '--format=%B', commit]);
}

export interface RepoOptions {
  cloneUrl: string;
  /** Parent folder of cached clones. */
  cacheDir: string;
  branch: string;
  author: { name: string; email: string };
  /** GITHUB_TOKEN, sent as an HTTP header through the environment: never in a URL, argv or .git/config. */
  token?: string;
}

/**
 * One decision of `pushWithRetry`: nothing (more) to push, or a push and what the step answers
 * once it lands. `push` is a local commit to set the branch to, or '' to delete the branch;
 * `lease` forces it only if the branch is still at that commit ('' = absent), otherwise it must
 * fast-forward.
 */
export type PushDecision<T> = { done: T } | { push: string; lease?: string; result: T };

/** git configuration as environment variables (GIT_CONFIG_COUNT, GIT_CONFIG_KEY_n, GIT_CONFIG_VALUE_n). */
function configEnv(entries: Array<[string, string]>): Record<string, string> {
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([key, value], i) =>
    Object.assign(env, { [`GIT_CONFIG_KEY_${i}`]: key, [`GIT_CONFIG_VALUE_${i}`]: value }),
  );
  return env;
}

/**
 * Removes the lock files a git killed mid-command leaves (index.lock, HEAD.lock, refs/…/x.lock,
 * packed-refs.lock, config.lock): with one left, every later command fails "File exists" until a
 * person deletes it. Safe only because the cache dir belongs to one worker process and this runs
 * before the process's first git command in it: no live git can be holding these locks.
 */
function removeStaleLocks(gitDir: string): string[] {
  const removed: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      // Loose-object fan-out directories hold no locks, only (many) objects.
      if (entry.isDirectory()) {
        if (!(dir === join(gitDir, 'objects') && /^[0-9a-f]{2}$/.test(entry.name))) walk(path);
      } else if (entry.name.endsWith('.lock')) {
        rmSync(path, { force: true });
        removed.push(path.slice(gitDir.length + 1));
      }
    }
  };
  walk(gitDir);
  return removed.sort();
}

/**
 * Marks the cache dir as this process's (`<dir>.owner` holds its pid). Returns the pid of another
 * live process that holds it, in which case this one must not remove lock files that process's git
 * may be holding; a mark left by a dead process is taken over.
 */
function claimCache(dir: string): number | undefined {
  const mark = `${dir}.owner`;
  mkdirSync(dirname(dir), { recursive: true });
  const holder = existsSync(mark) ? Number(readFileSync(mark, 'utf8').trim()) : NaN;
  if (Number.isInteger(holder) && holder !== process.pid && alive(holder)) return holder;
  writeFileSync(mark, `${process.pid}\n`);
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A cached clone of the deployed repository. Every git operation goes through `exclusive`, so
 * concurrent activities in one worker never race on the index, the work tree or a fetch.
 */
export class RepoCache {
  readonly dir: string;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly env: Record<string, string>;

  constructor(private readonly options: RepoOptions) {
    const slug = options.cloneUrl
      .replace(/\.git$/, '')
      .split(/[/:]/)
      .filter(Boolean)
      .slice(-2)
      .join('__');
    this.dir = resolve(options.cacheDir, slug || 'repository');
    const config: Array<[string, string]> = [...NETWORK_TIMEOUTS];
    if (options.token && /^https:/.test(options.cloneUrl)) {
      // GitHub's token over HTTPS: Basic auth as x-access-token. As configuration in the environment
      // it reaches git and git-remote-https without a URL, an argument (/proc/<pid>/cmdline is
      // world-readable) or .git/config; the environment is readable only by this user.
      const basic = Buffer.from(`x-access-token:${options.token}`).toString('base64');
      config.push(['http.extraHeader', `Authorization: Basic ${basic}`]);
    }
    this.env = {
      GIT_TERMINAL_PROMPT: '0',
      GIT_AUTHOR_NAME: options.author.name,
      GIT_AUTHOR_EMAIL: options.author.email,
      GIT_COMMITTER_NAME: options.author.name,
      GIT_COMMITTER_EMAIL: options.author.email,
      ...configEnv(config),
    };
  }

  /** The origin's URL as messages may show it: without credentials. */
  get origin(): string {
    return withoutCredentials(this.options.cloneUrl);
  }

  get remoteMain(): string {
    return this.remoteRef(this.options.branch);
  }

  /** Where a fetched branch of origin lives in the clone. */
  remoteRef(branch: string): string {
    return `refs/remotes/origin/${branch}`;
  }

  exclusive<T>(work: (git: SimpleGit) => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => work(await this.open()));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private git(baseDir: string): SimpleGit {
    // git gets a minimal environment: nothing of the worker's secrets, and nothing simple-git's
    // guard refuses (EDITOR, pagers); GIT_* variables must be allowed by name.
    const inherited = Object.fromEntries(
      INHERITED_ENV.flatMap((key) => (process.env[key] ? [[key, process.env[key]!]] : [])),
    );
    const env = { ...inherited, ...this.env };
    return simpleGit({
      baseDir,
      maxConcurrentProcesses: 1,
      allowEnvironment: Object.keys(env),
      // simple-git refuses GIT_CONFIG_COUNT because configuration from the environment could
      // smuggle in command-running keys when its values come from users. Ours come from this
      // class only (network timeouts, the token's header), and simple-git still checks each key
      // against its block list.
      unsafe: { allowUnsafeConfigEnvCount: true },
    }).env(env);
  }

  private async open(): Promise<SimpleGit> {
    const gitDir = join(this.dir, '.git');
    if (!recovered.has(this.dir)) {
      recovered.add(this.dir);
      const other = claimCache(this.dir);
      if (other)
        stepLog.warn(
          `git cache ${this.dir} is in use by process ${other} too: give each worker process a git.cacheDir of its own; stale lock files are left alone`,
          { cacheDir: this.dir, otherPid: other },
        );
      else if (existsSync(gitDir)) {
        const removed = removeStaleLocks(gitDir);
        if (removed.length)
          stepLog.warn(`git cache ${this.dir}: removed lock files left by a killed git: ${removed.join(', ')}`, {
            cacheDir: this.dir,
            removed,
          });
      }
    }
    if (!existsSync(gitDir)) await this.clone();
    return this.git(this.dir);
  }

  /**
   * Clones beside the cache dir, then renames it into place: a worker killed mid-clone leaves
   * only the partial copy, which the next clone replaces, never a cache dir with half a repository.
   */
  private async clone(): Promise<void> {
    const partial = `${this.dir}.partial`;
    mkdirSync(dirname(this.dir), { recursive: true });
    rmSync(partial, { recursive: true, force: true });
    try {
      await this.git(dirname(this.dir)).clone(this.options.cloneUrl, partial, ['--no-checkout', '--origin', 'origin']);
    } catch (err) {
      rmSync(partial, { recursive: true, force: true });
      gitFailure(err, { origin: this.options.cloneUrl, action: 'clone' });
    }
    // Not a clone (no .git): whatever is there is a leftover of this cache, not a person's work.
    rmSync(this.dir, { recursive: true, force: true });
    renameSync(partial, this.dir);
    stepLog.info(`cloned ${this.origin} into ${this.dir}`, { origin: this.origin, cacheDir: this.dir });
  }

  async fetchMain(git: SimpleGit): Promise<void> {
    await this.fetchBranch(git, this.options.branch);
  }

  /** Fetches one branch of origin; a branch that no longer exists is a permanent failure. */
  async fetchBranch(git: SimpleGit, branch: string): Promise<string> {
    const ref = this.remoteRef(branch);
    try {
      await git.fetch('origin', `+refs/heads/${branch}:${ref}`);
    } catch (err) {
      gitFailure(err, { origin: this.options.cloneUrl, branch, action: 'fetch' });
    }
    return ref;
  }

  async hasCommit(git: SimpleGit, sha: string): Promise<boolean> {
    try {
      await git.raw(['cat-file', '-e', `${sha}^{commit}`]);
      return true;
    } catch {
      return false;
    }
  }

  /** Makes sure a commit is present locally: fetch main, then the commit itself (GitHub serves reachable SHAs). */
  async ensureCommit(git: SimpleGit, sha: string): Promise<void> {
    if (await this.hasCommit(git, sha)) return;
    await this.fetchMain(git);
    if (await this.hasCommit(git, sha)) return;
    try {
      await git.fetch('origin', sha);
    } catch (err) {
      // Only "no such object" means the commit is not there; a network or auth failure is not an answer.
      if (!isMissingRef(err)) gitFailure(err, { origin: this.options.cloneUrl, action: 'fetch' });
    }
    if (!(await this.hasCommit(git, sha)))
      throw permanent(`commit ${sha} does not exist in ${this.origin}`, 'CommitNotFound');
  }

  /**
   * Whether `ancestor` is `descendant` or one of its ancestors. Not `merge-base --is-ancestor`:
   * simple-git reports a silent non-zero exit as success, so its "no" would read as "yes".
   */
  async isAncestor(git: SimpleGit, ancestor: string, descendant: string): Promise<boolean> {
    try {
      const [base, resolved] = await Promise.all([
        git.raw(['merge-base', ancestor, descendant]),
        git.revparse([`${ancestor}^{commit}`]),
      ]);
      return base.trim() !== '' && base.trim() === resolved.trim();
    } catch {
      return false;
    }
  }

  /**
   * Every push of the deployer: decide (fetching what it reads), push; when the push lost a race
   * with another push, decide again on where the branch is now. Any other failure is gitFailure's:
   * permanent when the token or the server's policy refused it, else thrown for the step's retry.
   */
  async pushWithRetry<T>(git: SimpleGit, branch: string, decide: () => Promise<PushDecision<T>>): Promise<T> {
    for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
      const decision = await decide();
      if ('done' in decision) return decision.done;
      const lease = decision.lease === undefined ? [] : [`--force-with-lease=refs/heads/${branch}:${decision.lease}`];
      try {
        await git.raw(['push', ...lease, 'origin', `${decision.push}:refs/heads/${branch}`]);
        if (decision.push)
          stepLog.info(`pushed ${decision.push.slice(0, 7)} to ${branch}`, { pushed: decision.push, branch });
        else stepLog.info(`deleted ${branch} on the origin`, { deleted: branch });
        return decision.result;
      } catch (err) {
        // A branch to delete that is gone already lost the race to whoever deleted it.
        const lost = isLostPushRace(err) || (decision.push === '' && isMissingRef(err));
        if (!lost) gitFailure(err, { origin: this.options.cloneUrl, branch, action: 'push' });
        const race = `push to ${branch} lost a race with another push (${attempt} of ${PUSH_ATTEMPTS}): deciding again`;
        stepLog.info(race, { branch, pushAttempt: attempt });
      }
    }
    throw new Error(
      `${branch} kept moving: ${PUSH_ATTEMPTS} pushes lost the race with other pushes; the activity will retry`,
    );
  }

  async show(git: SimpleGit, rev: string, path: string): Promise<string> {
    try {
      return await git.show([`${rev}:${path}`]);
    } catch {
      throw permanent(
        `${path} does not exist at ${rev.slice(0, 12)}; check overlay.path in the configuration`,
        'OverlayMissing',
      );
    }
  }
}
