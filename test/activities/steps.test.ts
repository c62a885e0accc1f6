import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, type Activities } from '../../src/activities';
import { IN_PROCESS_RETRIES, IN_PROCESS_WAIT_MAX_S } from '../../src/activities/octokit';
import { createDeps } from '../../src/worker/deps';
import { shaTag } from '../../src/plan/tags';
import { git } from '../../harness/origin';
import { INITIAL_TAG, OWNER, REPO, startStack, type Stack } from '../../harness/stack';

/** The steps with their real clients, against real git, a real registry and the API stand-ins. */
let stack: Stack;
let steps: Activities;
let deps: ReturnType<typeof createDeps>;
const OVERLAY = 'k8s/overlays/prod/kustomization.yaml';

beforeAll(async () => {
  stack = await startStack();
  await stack.pushImages(INITIAL_TAG);
  deps = createDeps(stack.config, { GITHUB_TOKEN: 'ghs_test_github_token', ARGOCD_TOKEN: 'argocd-test-token' });
  steps = createActivities(deps);
}, 120_000);
afterAll(() => stack?.stop());

/** Runs a shell script in the deployer's clone just before its next push reaches origin (a real pre-push hook, once). */
function beforeNextPush(script: string): string {
  const hook = join(deps.repo.dir, '.git/hooks/pre-push');
  writeFileSync(hook, `#!/bin/sh\nrm -f "$0"\n${script}\n`);
  chmodSync(hook, 0o755);
  return hook;
}

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

describe('detect', () => {
  const production = { kind: 'production', name: 'production' } as const;
  const preview = { kind: 'preview', pr: 5 } as const;

  test("production: diffs before..after from the cached clone, renames included, with the worker's timing", async () => {
    const before = await stack.origin.head();
    await stack.origin.commit({ 'docs/guide.md': 'guide\n' }, 'docs');
    const after = await stack.origin.commit(
      { 'docs/guide.md': null, 'services/shared/guide.md': 'guide\n', 'k8s/base/x.yaml': 'a: 1\n' },
      'move',
    );
    const plan = await steps.detect({ target: production, commit: after, before });
    expect(plan).toEqual({
      path: 'k8s',
      reason: 'k8s-only change: k8s/base/x.yaml',
      images: ['yt-summarizer-api', 'yt-summarizer-workers'],
      changedFiles: 2,
      repositoryUrl: `${new URL(stack.config.github.apiUrl).origin}/${OWNER}/${REPO}`,
      searchAttributes: stack.config.temporal.searchAttributes,
      ciTimeoutMs: 120_000,
      ciPollInitialMs: 500,
      ciPollMaxMs: 2_000,
      ciRerunWindowMs: 0,
      syncTimeoutMs: 60_000,
      reannounceMs: 300_000,
      // Reporting is off in this stack: nothing to report.
      report: { notify: [], repositoryUrl: `${new URL(stack.config.github.apiUrl).origin}/${OWNER}/${REPO}` },
    });
    // An all-zero before (a new branch) compares with the parent commit only.
    expect(await steps.detect({ target: production, commit: after, before: '0'.repeat(40) })).toMatchObject({
      path: 'k8s',
      changedFiles: 2,
    });
  });

  test("preview: the PR against its merge base; the commits with the head's code; its head branch", async () => {
    const built = await stack.origin.commitOn('preview/detect', { 'services/api/main.py': 'print(50)\n' }, 'pr: code');
    const head = await stack.origin.commitOn('preview/detect', { 'docs/pr.md': 'notes\n' }, 'pr: docs [skip ci]');
    const commits = [
      { sha: head, overlay: false },
      { sha: built, overlay: false },
    ];
    const plan = await steps.detect({
      target: preview,
      commit: head,
      baseRef: 'main',
      headRef: 'preview/detect',
      commits,
    });
    expect(plan).toMatchObject({
      path: 'code',
      reason: 'pull request #5: code changed: services/api/main.py',
      images: ['yt-summarizer-api', 'yt-summarizer-workers'],
      changedFiles: 2,
      sameCode: [head, built],
      headRef: 'preview/detect',
      ciSkipped: '[skip ci]',
      syncTimeoutMs: 60_000, // preview.syncTimeout unset: argocd.syncTimeout
      reannounceMs: 300_000,
    });
    expect(plan).not.toHaveProperty('tag'); // the workflow chooses the tag (plan/tag-rule.ts)

    // A push that changed code has only its own build to wait for.
    const changed = await stack.origin.commitOn(
      'preview/detect',
      { 'services/api/main.py': 'print(51)\n' },
      'pr: more',
    );
    expect(
      (
        await steps.detect({
          target: preview,
          commit: changed,
          baseRef: 'main',
          headRef: 'preview/detect',
          commits: [{ sha: changed, overlay: false }, ...commits],
        })
      ).sameCode,
    ).toEqual([changed]);
  });

  test('a commit that does not exist is a permanent failure', async () => {
    expect((await failure(steps.detect({ target: production, commit: 'b'.repeat(40) }))).nonRetryable).toBe(true);
  });

  test('bad input never reaches git', async () => {
    expect((await failure(steps.detect({ target: production, commit: 'main' }))).type).toBe('BadInput');
    const noTarget = await failure(steps.detect({ commit: 'a'.repeat(40) } as never));
    expect(noTarget).toMatchObject({ type: 'BadInput', message: 'detect: bad input: target: required' });
    // A preview's input without its branches is refused as a preview's.
    const bare = await failure(steps.detect({ target: preview, commit: 'a'.repeat(40) } as never));
    expect(bare.message).toMatch(/^detect: bad input: baseRef: required; headRef: required; commits: required$/);
  });
});

describe('validate-images', () => {
  test('records each digest from the registry', async () => {
    const tag = 'sha-0a0a0a0';
    const api = await stack.registry.pushImage('yt-summarizer-api', tag);
    const workers = await stack.registry.pushImage('yt-summarizer-workers', tag);
    expect(await steps.validateImages({ tag })).toEqual([
      { name: 'yt-summarizer-api', reference: `${stack.registry.host}/yt-summarizer-api:${tag}`, digest: api },
      {
        name: 'yt-summarizer-workers',
        reference: `${stack.registry.host}/yt-summarizer-workers:${tag}`,
        digest: workers,
      },
    ]);
  });

  test('a missing image fails permanently, naming it', async () => {
    const err = await failure(steps.validateImages({ tag: 'sha-fffffff' }));
    expect(err).toMatchObject({ type: 'ImageNotFound', nonRetryable: true });
    expect(err.message).toMatch(
      new RegExp(
        `^image not found: ${stack.registry.host}/yt-summarizer-api:sha-fffffff, ${stack.registry.host}/yt-summarizer-workers:sha-fffffff\\.`,
      ),
    );
  });
});

describe('update-overlay', () => {
  test('commits once: a retry after a crash finds its own commit instead of making another', async () => {
    const commit = await stack.origin.commit({ 'services/api/main.py': 'print(5)\n' }, 'feat: five');
    const first = await steps.updateOverlay({ kind: 'deploy', tag: shaTag(commit), commit, workflowId: 'wf-once' });
    const again = await steps.updateOverlay({ kind: 'deploy', tag: shaTag(commit), commit, workflowId: 'wf-once' });
    expect(again).toEqual(first);
    expect(first.overlayCommit).toBe(await stack.origin.head());
    expect((await stack.origin.log()).filter((e) => e.body.includes('Deploy-Workflow-Id: wf-once'))).toHaveLength(1);
  });

  test('an overlay that already holds the tag commits nothing', async () => {
    const tag = /newTag: (sha-[0-9a-f]{7})/.exec(await stack.origin.readAt('main', OVERLAY))![1]!;
    const head = await stack.origin.head();
    expect(await steps.updateOverlay({ kind: 'deploy', tag, commit: head, workflowId: 'wf-noop' })).toEqual({
      outcome: 'unchanged',
      overlayCommit: null,
      revision: head,
    });
    expect(await stack.origin.head()).toBe(head);
  });

  test('a push rejected as non-fast-forward fetches, re-applies on the new main and pushes', async () => {
    const commit = await stack.origin.commit({ 'services/api/main.py': 'print(6)\n' }, 'feat: six');
    // A real pre-push hook in the deployer's clone lands a foreign commit on origin first, once.
    const other = join(stack.dir, 'racer');
    await git(stack.dir, ['clone', '-q', stack.origin.url, other]);
    beforeNextPush(
      `cd ${other} && git pull -q origin main && git -c user.name=r -c user.email=r@x commit -q --allow-empty -m racer && git push -q origin HEAD:main`,
    );

    const result = await steps.updateOverlay({ kind: 'deploy', tag: shaTag(commit), commit, workflowId: 'wf-race' });
    const log = await stack.origin.log();
    expect(log[0]!.sha).toBe(result.overlayCommit);
    expect(log[1]!.subject).toBe('racer');
    expect(await stack.origin.readAt('main', OVERLAY)).toContain(`newTag: ${shaTag(commit)}`);
  });
});

describe('wait-for-ci probe', () => {
  test('finds the newest run of the commit on main', async () => {
    const sha = 'c'.repeat(40);
    const run = stack.github.addRun({
      owner: OWNER,
      repo: REPO,
      headSha: sha,
      status: 'completed',
      conclusion: 'success',
    });
    expect(await steps.findCiRun({ commit: sha })).toEqual({
      id: run.id,
      status: 'completed',
      conclusion: 'success',
      url: run.html_url,
      headSha: sha,
      attempt: 1,
    });
    expect(await steps.findCiRun({ commit: 'd'.repeat(40) })).toBeNull();
  });

  test('a bad token is permanent; a long 429 waits for Retry-After; 503 past the in-process retries is retried', async () => {
    const badToken = createActivities(createDeps(stack.config, { GITHUB_TOKEN: 'wrong' }));
    expect(await failure(badToken.findCiRun({ commit: 'c'.repeat(40) }))).toMatchObject({
      type: 'Unauthorized',
      nonRetryable: true,
    });

    // Up to IN_PROCESS_WAIT_MAX_S the client waits inside the request (test/activities/octokit.test.ts).
    stack.github.failNext(1, 429, { 'retry-after': String(IN_PROCESS_WAIT_MAX_S + 15) });
    expect(await failure(steps.findCiRun({ commit: 'c'.repeat(40) }))).toMatchObject({
      type: 'RateLimited',
      nonRetryable: false,
      nextRetryDelay: (IN_PROCESS_WAIT_MAX_S + 15) * 1_000,
    });

    stack.github.failNext(1 + IN_PROCESS_RETRIES, 503);
    const err = await steps.findCiRun({ commit: 'c'.repeat(40) }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ApplicationFailure);
  });
});

describe('confirm-sync probe', () => {
  test('Argo CD at a later commit of main contains the target', async () => {
    const target = await stack.origin.commit({ 'k8s/base/y.yaml': 'b: 1\n' }, 'k8s: y');
    await stack.origin.commit({ 'docs/api.md': 'later\n' }, 'docs: later');
    let seen;
    for (let i = 0; i < 100; i++) {
      seen = await steps.observeArgoApp({ revision: target, refresh: i === 0 });
      if (seen.syncStatus === 'Synced' && seen.syncRevision === (await stack.origin.head())) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen).toMatchObject({ syncStatus: 'Synced', revisionContainsTarget: true });
    expect((await steps.observeArgoApp({ revision: 'e'.repeat(40) })).revisionContainsTarget).toBe(false);
    expect(stack.argo.requests.some((r) => r.query.refresh === 'normal')).toBe(true);
  });
});

describe('read-running-tag', () => {
  test("'latest' in the overlay is refused with the spec's advice", async () => {
    const text = (await stack.origin.readAt('main', OVERLAY)).replace(/newTag: sha-[0-9a-f]{7}/g, 'newTag: latest');
    const commit = await stack.origin.commit({ [OVERLAY]: text }, 'oops: latest');
    const err = await failure(steps.readRunningTag({ commit }));
    expect(err).toMatchObject({ type: 'InvalidProductionTag', nonRetryable: true });
    expect(err.message).toMatch(/'latest'.*Fix: update newTag to a specific SHA tag/);
  });
});

describe('preview steps', () => {
  const PREVIEW = 'k8s/overlays/preview/kustomization.yaml';
  const change = (commit: string, branch: string, tag = 'pr-5-aaaaaaa') =>
    ({
      kind: 'preview',
      tag,
      workflowId: `preview-test-pr-5-${commit}`,
      commit,
      pr: 5,
      branch,
      rule: 'ci',
      target: null as string | null,
    }) as const;

  test('update-overlay commits on top of exactly the previewed commit, once, on the PR branch', async () => {
    const head = await stack.origin.commitOn('preview/once', { 'services/api/main.py': 'print(5)\n' }, 'pr 5');
    const mainBefore = await stack.origin.head();
    const first = await steps.updateOverlay(change(head, 'preview/once'));
    expect(first).toMatchObject({ outcome: 'committed', revision: first.overlayCommit });
    // A retry after a crash finds its own commit instead of making a second.
    expect(await steps.updateOverlay(change(head, 'preview/once'))).toEqual(first);
    expect((await git(stack.origin.bareDir, ['rev-parse', `${first.overlayCommit}^`])).trim()).toBe(head);
    expect(await stack.origin.readAt('refs/heads/preview/once', PREVIEW)).toContain('newTag: pr-5-aaaaaaa');
    expect(await stack.origin.head()).toBe(mainBefore);
  });

  test('update-overlay ends superseded when the author pushed meanwhile, and leaves the branch alone', async () => {
    const previewed = await stack.origin.commitOn('preview/moved', { 'services/api/main.py': 'print(6)\n' }, 'pr 6');
    const newer = await stack.origin.commitOn('preview/moved', { 'services/api/main.py': 'print(7)\n' }, 'pr 6 again');
    expect(await steps.updateOverlay(change(previewed, 'preview/moved'))).toMatchObject({
      outcome: 'superseded',
      overlayCommit: null,
      revision: newer,
    });
    expect((await git(stack.origin.bareDir, ['rev-parse', 'refs/heads/preview/moved'])).trim()).toBe(newer);
  });

  test('a re-run of the same preview with another tag commits on top of its earlier commit, not beside it', async () => {
    const head = await stack.origin.commitOn('preview/rerun', { 'k8s/base/x.yaml': 'a: 1\n' }, 'pr 8');
    const first = await steps.updateOverlay(change(head, 'preview/rerun', 'pr-5-1111111'));
    const again = await steps.updateOverlay(change(head, 'preview/rerun', 'sha-2222222')); // same workflow id, production moved on
    expect(again).toMatchObject({ outcome: 'committed' });
    expect(again.overlayCommit).not.toBe(first.overlayCommit);
    expect((await git(stack.origin.bareDir, ['rev-parse', `${again.overlayCommit}^`])).trim()).toBe(
      first.overlayCommit,
    );
    expect(await stack.origin.readAt('refs/heads/preview/rerun', PREVIEW)).toContain('newTag: sha-2222222');
  });

  test('preview.branch: force-pushed over its own commits only; a branch someone else owns is refused and kept', async () => {
    const head = await stack.origin.commitOn('preview/own', { 'services/api/main.py': 'print(9)\n' }, 'pr 9');
    const own = { ...change(head, 'preview/own'), target: 'gitops-deployer/preview-5' };
    const first = await steps.updateOverlay(own);
    expect((await git(stack.origin.bareDir, ['rev-parse', `${first.overlayCommit}^`])).trim()).toBe(head);
    expect(await steps.updateOverlay(own)).toEqual(first); // a retry finds its own commit
    expect((await git(stack.origin.bareDir, ['rev-parse', 'refs/heads/preview/own'])).trim()).toBe(head); // the PR branch is untouched
    expect(await steps.removePreviewBranch({ branch: 'gitops-deployer/preview-5' })).toEqual({ removed: true });
    expect(await steps.removePreviewBranch({ branch: 'gitops-deployer/preview-5' })).toEqual({ removed: false });

    const someone = await stack.origin.commitOn('team/shared', { 'docs/x.md': 'x\n' }, "a person's branch");
    const err = await failure(steps.updateOverlay({ ...own, target: 'team/shared' }));
    expect(err).toMatchObject({ type: 'PreviewBranchNotOwned', nonRetryable: true });
    expect((await failure(steps.removePreviewBranch({ branch: 'team/shared' }))).type).toBe('PreviewBranchNotOwned');
    expect((await git(stack.origin.bareDir, ['rev-parse', 'refs/heads/team/shared'])).trim()).toBe(someone);
  });

  test("pushes to the deployer's own branch that lose a race (the branch deleted meanwhile) are decided again", async () => {
    const head = await stack.origin.commitOn('preview/race', { 'services/api/main.py': 'print(10)\n' }, 'pr 10');
    const target = 'gitops-deployer/preview-race';
    const own = { ...change(head, 'preview/race'), target };
    const first = await steps.updateOverlay(own);
    const deleteOnOrigin = `git --git-dir=${stack.origin.bareDir} update-ref -d refs/heads/${target}`;
    const tipOf = async (branch: string) =>
      (
        await git(stack.origin.bareDir, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]).catch(() => '')
      ).trim();

    // A re-run with another tag leases the branch at `first`; it is gone when the push arrives.
    const hook = beforeNextPush(deleteOnOrigin);
    const again = await steps.updateOverlay({ ...own, tag: 'pr-5-bbbbbbb' });
    expect(existsSync(hook)).toBe(false); // the race happened
    expect(again).toMatchObject({ outcome: 'committed' });
    expect(again.overlayCommit).not.toBe(first.overlayCommit);
    expect((await git(stack.origin.bareDir, ['rev-parse', `${again.overlayCommit}^`])).trim()).toBe(head);
    expect(await tipOf(target)).toBe(again.overlayCommit);
    expect(await stack.origin.readAt(`refs/heads/${target}`, PREVIEW)).toContain('newTag: pr-5-bbbbbbb');

    // Deleting it: gone meanwhile is decided again, and found gone.
    beforeNextPush(deleteOnOrigin);
    expect(await steps.removePreviewBranch({ branch: target })).toEqual({ removed: false });
    expect(existsSync(hook)).toBe(false);
    expect(await tipOf(target)).toBe('');
  });

  test('a deleted branch is a permanent failure, not a retry loop', async () => {
    const err = await failure(steps.updateOverlay(change('c'.repeat(40), 'preview/never-existed')));
    expect(err).toMatchObject({ type: 'BranchNotFound', nonRetryable: true });
  });

  test('search-images returns the newest candidate whose images all exist', async () => {
    await stack.pushImages('pr-5-bbbbbbb');
    await stack.registry.pushImage('yt-summarizer-api', 'pr-5-ccccccc'); // workers missing: not a full build
    const candidates = ['d', 'c', 'b', 'a'].map((c) => ({ commit: c.repeat(40), tag: `pr-5-${c.repeat(7)}` }));
    expect(await steps.findImages({ candidates })).toEqual(candidates[2]);
    expect(await steps.findImages({ candidates: candidates.slice(0, 2) })).toBeNull();
  });
});
