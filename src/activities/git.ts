import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { permanent } from './failures';

const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TMPDIR', 'SSH_AUTH_SOCK', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy'];
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

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
 * A cached clone of the deployed repository. Every git operation goes through `exclusive`, so
 * concurrent activities in one worker never race on the index, the work tree or a fetch.
 */
export class RepoCache {
  readonly dir: string;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly env: Record<string, string>;

  constructor(private readonly options: RepoOptions) {
    const slug = options.cloneUrl.replace(/\.git$/, '').split(/[/:]/).filter(Boolean).slice(-2).join('__');
    this.dir = resolve(options.cacheDir, slug || 'repository');
    const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0', GIT_AUTHOR_NAME: options.author.name, GIT_AUTHOR_EMAIL: options.author.email, GIT_COMMITTER_NAME: options.author.name, GIT_COMMITTER_EMAIL: options.author.email };
    if (options.token && /^https:/.test(options.cloneUrl)) {
      const basic = Buffer.from(`x-access-token:${options.token}`).toString('base64');
      Object.assign(env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` });
    }
    this.env = env;
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
    const inherited = Object.fromEntries(INHERITED_ENV.flatMap((key) => (process.env[key] ? [[key, process.env[key]!]] : [])));
    return simpleGit({ baseDir, maxConcurrentProcesses: 1, allowEnvironment: Object.keys(this.env) }).env({ ...inherited, ...this.env });
  }

  private async open(): Promise<SimpleGit> {
    if (!existsSync(join(this.dir, '.git'))) {
      mkdirSync(dirname(this.dir), { recursive: true });
      await this.git(dirname(this.dir)).clone(this.options.cloneUrl, this.dir, ['--no-checkout', '--origin', 'origin']);
    }
    return this.git(this.dir);
  }

  async fetchMain(git: SimpleGit): Promise<void> {
    await git.fetch('origin', `+refs/heads/${this.options.branch}:${this.remoteMain}`);
  }

  /** Fetches one branch of origin; a branch that no longer exists is a permanent failure. */
  async fetchBranch(git: SimpleGit, branch: string): Promise<string> {
    const ref = this.remoteRef(branch);
    try {
      await git.fetch('origin', `+refs/heads/${branch}:${ref}`);
    } catch (err) {
      if (/couldn't find remote ref|not our ref|no such ref/i.test((err as Error).message)) {
        throw permanent(`branch ${branch} no longer exists in ${this.options.cloneUrl}`, 'BranchNotFound');
      }
      throw err;
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
    await git.fetch('origin', sha).catch(() => undefined);
    if (!(await this.hasCommit(git, sha))) throw permanent(`commit ${sha} does not exist in ${this.options.cloneUrl}`, 'CommitNotFound');
  }

  /**
   * Whether `ancestor` is `descendant` or one of its ancestors. Not `merge-base --is-ancestor`:
   * simple-git reports a silent non-zero exit as success, so its "no" would read as "yes".
   */
  async isAncestor(git: SimpleGit, ancestor: string, descendant: string): Promise<boolean> {
    try {
      const [base, resolved] = await Promise.all([git.raw(['merge-base', ancestor, descendant]), git.revparse([`${ancestor}^{commit}`])]);
      return base.trim() !== '' && base.trim() === resolved.trim();
    } catch {
      return false;
    }
  }

  async show(git: SimpleGit, rev: string, path: string): Promise<string> {
    try {
      return await git.show([`${rev}:${path}`]);
    } catch {
      throw permanent(`${path} does not exist at ${rev.slice(0, 12)}; check overlay.path in the configuration`, 'OverlayMissing');
    }
  }
}
