// What GitHub itself does around the real relay: a signed `push` webhook for every update of the
// repository (the deployer's own overlay pushes included, which the relay must ignore), and CI
// runs that push images and report a `workflow_run` webhook when they complete.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prTag, shaTag } from '../src/plan/tags';
import {
  deliver,
  pullRequestPayload,
  pushPayload,
  workflowRunPayload,
  ZERO,
  type Delivered,
} from '../harness/standins/github-webhooks';
import type { GitHubStandIn } from '../harness/standins/github';
import { git, type Origin } from '../harness/origin';

export interface GitHubSideOptions {
  origin: Origin;
  github: GitHubStandIn;
  /** owner/name */
  repository: string;
  relayUrl: string;
  secret: string;
  pushImages(tag: string): Promise<void>;
  log(line: string): void;
}

export interface Pushed {
  before: string;
  delivered: Delivered;
}

export interface CiPlan {
  conclusion: 'success' | 'failure';
  seconds: number;
  title: string;
}

export interface GitHubSide {
  /**
   * Sends the webhooks of every push not sent yet; resolves to the delivery of the push that made
   * `sha` the tip (for a pull request's branch, the `pull_request` synchronize).
   */
  pushed(sha: string): Promise<Pushed | undefined>;
  /** Opens pull request `pr` from `branch` (its head is pushed already) and sends `pull_request` opened. */
  openPull(pr: number, branch: string, head: string): Promise<Pushed>;
  /** Starts a CI run of `sha` that finishes after `plan.seconds`; for a pull request, its pull_request run. */
  runCi(sha: string, plan: CiPlan, pull?: { pr: number; branch: string }): number;
  stop(): Promise<void>;
}

export function startGitHubSide(opts: GitHubSideOptions): GitHubSide {
  const { origin, github, repository, log } = opts;
  const [owner, repo] = repository.split('/') as [string, string];
  // A post-receive hook sees every push to the bare origin, whoever makes it, one line per ref update.
  const feed = join(origin.bareDir, 'pushes.log');
  const hook = join(origin.bareDir, 'hooks', 'post-receive');
  writeFileSync(
    hook,
    "#!/bin/sh\n# Lets the sandbox send GitHub's push webhook for each update (cwd is the bare repo).\ncat >> pushes.log\n",
  );
  chmodSync(hook, 0o755);
  // Repo-local, so a global core.hooksPath of whoever pushes cannot bypass the hook.
  const configured = git(origin.bareDir, ['config', 'core.hooksPath', join(origin.bareDir, 'hooks')]);

  const sent = new Map<string, Pushed>();
  /** Open pull requests by head branch: pushes to them also send `pull_request` synchronize, as GitHub does. */
  const pulls = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  let offset = 0;
  let chain: Promise<void> = configured.then(() => undefined);
  let stopped = false;

  const send = (event: string, payload: unknown) => deliver(opts.relayUrl, event, payload, { secret: opts.secret });

  async function deliverPush(before: string, after: string, ref: string): Promise<void> {
    const range = before === ZERO ? ['-1', after] : [`${before}..${after}`];
    const history =
      after === ZERO ? '' : await git(origin.bareDir, ['log', '--reverse', '--format=%H%x1f%B%x1e', ...range]);
    const commits = await Promise.all(
      history
        .split('\x1e')
        .map((r) => r.trim())
        .filter(Boolean)
        .slice(-20)
        .map(async (record) => {
          const [id, message = ''] = record.split('\x1f') as [string, string?];
          const modified = (await git(origin.bareDir, ['diff-tree', '--no-commit-id', '--name-only', '-r', id]))
            .split('\n')
            .filter(Boolean);
          return { id, message: message.trim(), modified };
        }),
    );
    const payload = pushPayload({ repository, ref, before, after, commits, deleted: after === ZERO });
    const subject = commits.at(-1)?.message.split('\n')[0] ?? '(deleted)';
    const branch = ref.replace('refs/heads/', '');
    log(`github:  ${branch} ${before.slice(0, 7)}..${after.slice(0, 7)} "${subject}" -> push webhook`);
    sent.set(after, { before, delivered: await send('push', payload) });
    const pr = pulls.get(branch);
    if (pr !== undefined && after !== ZERO) {
      // The deployer's own preview commits included: the relay forwards them, the PR's workflow ignores them.
      log(`github:  #${pr} head ${after.slice(0, 7)} -> pull_request synchronize webhook`);
      const synchronize = pullRequestPayload(
        repository,
        'synchronize',
        { number: pr, headSha: after, headRef: branch },
        { before, after },
      );
      sent.set(after, { before, delivered: await send('pull_request', synchronize) });
    }
  }

  async function flush(): Promise<void> {
    if (!existsSync(feed)) return;
    const bytes = readFileSync(feed);
    const end = bytes.lastIndexOf(0x0a);
    if (end < offset) return;
    const lines = bytes.subarray(offset, end).toString('utf8').split('\n').filter(Boolean);
    offset = end + 1;
    for (const line of lines) {
      const [before, after, ref] = line.trim().split(' ') as [string, string, string];
      // One failed delivery (the relay closing at shutdown) must not stop the ones after it.
      await deliverPush(before, after, ref).catch((err: Error) =>
        log(`github:  push webhook for ${after.slice(0, 7)} failed: ${err.message}`),
      );
    }
  }

  const sync = () =>
    (chain = chain.then(flush).catch((err: Error) => log(`github:  reading the push feed failed: ${err.message}`)));
  // Pushes nobody asks about (the deployer's overlay commits) are sent within a moment too.
  const poll = setInterval(() => void (stopped || sync()), 250);

  async function openPull(pr: number, branch: string, head: string): Promise<Pushed> {
    await sync(); // the branch's own push webhook goes first, as on GitHub
    await github.addPullRequest({ owner, repo, number: pr, headRef: branch, title: `sandbox pull request #${pr}` });
    pulls.set(branch, pr);
    log(`github:  #${pr} opened from ${branch} at ${head.slice(0, 7)} -> pull_request opened webhook`);
    return {
      before: ZERO,
      delivered: await send(
        'pull_request',
        pullRequestPayload(repository, 'opened', { number: pr, headSha: head, headRef: branch }),
      ),
    };
  }

  function runCi(sha: string, plan: CiPlan, pull?: { pr: number; branch: string }): number {
    const run = github.addRun({
      owner,
      repo,
      headSha: sha,
      status: 'in_progress',
      displayTitle: plan.title,
      ...(pull ? { event: 'pull_request', branch: pull.branch, pullRequests: [pull.pr] } : {}),
    });
    const tag = pull ? prTag(pull.pr, sha) : shaTag(sha);
    log(
      `ci:      run ${run.id} of ${sha.slice(0, 7)} in progress; ${plan.conclusion === 'success' ? `builds ${tag}` : 'fails'} in ${plan.seconds}s`,
    );
    void send('workflow_run', workflowRunPayload(repository, run, 'in_progress')).catch(() => undefined);
    const finish = async () => {
      if (plan.conclusion === 'success') await opts.pushImages(tag); // CI pushes before it reports success
      const done = github.setRun(run.id, { status: 'completed', conclusion: plan.conclusion });
      log(
        `ci:      run ${run.id} of ${sha.slice(0, 7)} completed: ${plan.conclusion}${plan.conclusion === 'success' ? `, pushed ${tag}` : ''} -> workflow_run webhook`,
      );
      await send('workflow_run', workflowRunPayload(repository, done, 'completed'));
    };
    const timer = setTimeout(() => {
      timers.delete(timer);
      finish().catch((err: Error) => log(`ci:      run ${run.id} could not finish: ${err.message}`));
    }, plan.seconds * 1000);
    timers.add(timer);
    return run.id;
  }

  return {
    runCi,
    openPull,
    async pushed(sha) {
      await sync();
      return sent.get(sha);
    },
    async stop() {
      stopped = true;
      clearInterval(poll);
      for (const timer of timers) clearTimeout(timer);
      await chain.catch(() => undefined);
    },
  };
}
