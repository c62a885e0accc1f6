import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimpleGit } from 'simple-git';
import { z } from 'zod';
import type { DeployConfig } from '../config/schema';
import { OverlayError, setOverlayImages } from '../plan/overlay';
import { SHA_TAG } from '../plan/tags';
import {
  deployerWorkflowId,
  TRAILER_COMMIT,
  TRAILER_REQUESTED_BY,
  TRAILER_RULE,
  TRAILER_WORKFLOW,
} from '../plan/trailers';
import type { OverlayUpdate } from '../workflows/types';
import { permanent } from './failures';
import { commitMessage, type RepoCache } from './git';
import { overlayImages, overlayImagesOrNone } from './overlay-file';
import { gitFailure, isLostPushRace, isMissingRef } from './git-errors';
import { branchName, checkInput, fullSha, imageTag } from './input';
import { registryHost } from './registry';

export { TRAILER_COMMIT, TRAILER_REQUESTED_BY, TRAILER_WORKFLOW };

const sameLine = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\r\n]*$/, 'must be one line');
const updateInput = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('deploy'), tag: imageTag, workflowId: z.string().min(1), commit: fullSha }),
  z.object({
    kind: z.literal('rollback'),
    tag: imageTag,
    workflowId: z.string().min(1),
    reason: sameLine(500),
    requestedBy: sameLine(200),
  }),
  z.object({
    kind: z.literal('preview'),
    tag: imageTag,
    workflowId: z.string().min(1),
    commit: fullSha,
    pr: z.number().int().positive(),
    branch: branchName,
    rule: z.enum(['ci', 'pr-history', 'production']),
    /** The deployer's own preview branch (preview.branch, as the PR's workflow read it), or null: the PR branch. */
    target: branchName.nullable().default(null),
  }),
]);
export type OverlayChange = z.input<typeof updateInput>;
type Change = z.output<typeof updateInput>;
type PreviewChange = Extract<Change, { kind: 'preview' }>;
const PUSH_ATTEMPTS = 5;

/** `[skip ci]` ends the subject: GitHub skips CI for it, and trailers must stay the last paragraph. */
export function overlayCommitMessage(change: Change): string {
  switch (change.kind) {
    case 'rollback':
      return `rollback: revert to ${change.tag} [skip ci]\n\n${change.reason}\n\n${TRAILER_REQUESTED_BY}: ${change.requestedBy}\n${TRAILER_WORKFLOW}: ${change.workflowId}\n`;
    case 'preview':
      return `preview: #${change.pr} to ${change.tag} [skip ci]\n\nSet ${change.tag} (rule ${change.rule}) in the preview overlay for ${change.commit.slice(0, 7)}.\n\n${TRAILER_COMMIT}: ${change.commit}\n${TRAILER_RULE}: ${change.rule}\n${TRAILER_WORKFLOW}: ${change.workflowId}\n`;
    case 'deploy':
      return `deploy: production to ${change.tag} [skip ci]\n\nSet ${change.tag} (built by CI from ${change.commit.slice(0, 7)}) in the production overlay.\n\n${TRAILER_COMMIT}: ${change.commit}\n${TRAILER_WORKFLOW}: ${change.workflowId}\n`;
  }
}

/** One reading of the branch: done (nothing to commit), or the overlay text to commit. */
type Attempt = { done: OverlayUpdate } | { text: string };

/** Step `update-overlay`: commit a tag into an overlay (production on main, a preview on its PR branch), at most once per change. */
export function overlaySteps(config: DeployConfig, repo: RepoCache) {
  const host = registryHost(config.registry.endpoint);
  const updatesFor = (tag: string) =>
    config.images.map((image) => ({ name: image.name, newName: `${host}/${image.repository}`, newTag: tag }));

  function edit(text: string, tag: string, where: string): { text: string; changed: boolean } {
    try {
      return setOverlayImages(text, updatesFor(tag));
    } catch (err) {
      if (err instanceof OverlayError) throw permanent(`${where}: ${err.message}`, 'OverlayError');
      throw err;
    }
  }

  /** Commits the overlay text on top of `base` and pushes it to `branch`; with `lease`, forced if the branch is still there ('' = absent). */
  async function commitAndPush(
    git: SimpleGit,
    change: Change,
    base: string,
    branch: string,
    path: string,
    text: string,
    lease?: string,
  ): Promise<string> {
    await git.raw(['checkout', '--force', '-B', 'gitops-deployer', base]);
    writeFileSync(join(repo.dir, path), text);
    await git.add(path);
    // Empty when the overlay already names the tag: the commit still marks the branch as the deployer's.
    await git.raw(['commit', '--allow-empty', '-m', overlayCommitMessage(change)]);
    const overlayCommit = (await git.revparse(['HEAD'])).trim();
    const force = lease === undefined ? [] : [`--force-with-lease=refs/heads/${branch}:${lease}`];
    await git.raw(['push', ...force, 'origin', `HEAD:refs/heads/${branch}`]);
    return overlayCommit;
  }

  /**
   * Only a lost race with another push is worth a fetch and a new decision here; any other push
   * failure is thrown: permanent when the token or the server's policy refused it, else retried.
   */
  function unlessLostRace(err: unknown, branch: string): void {
    if (isLostPushRace(err)) return; // someone pushed meanwhile: fetch and decide again on the new tip
    gitFailure(err, { origin: repo.origin, branch, action: 'push' });
  }

  /** The tag the overlay names at a revision (the first image's). */
  async function tagAt(git: SimpleGit, rev: string, path: string): Promise<string | undefined> {
    return overlayImagesOrNone(await git.show([`${rev}:${path}`]).catch(() => '')).find(
      (image) => image.name === config.images[0]!.name,
    )?.newTag;
  }

  /**
   * The deployer's commit for this change in the history of `remote`, if a (crashed) earlier
   * attempt pushed it. A re-run of the same deploy may have committed another tag: only this one counts.
   */
  async function mineOn(git: SimpleGit, remote: string, change: Change, path: string): Promise<string | undefined> {
    const sha = (
      await git.raw([
        'log',
        remote,
        '-n',
        '1',
        '--format=%H',
        '--fixed-strings',
        `--grep=${TRAILER_WORKFLOW}: ${change.workflowId}`,
        '--',
        path,
      ])
    ).trim();
    return sha && (await tagAt(git, sha, path)) === change.tag ? sha : undefined;
  }

  /** Whether `tip` is `commit` under nothing but the deployer's preview commits for it (a re-run after an earlier preview). */
  async function onlyOursAbove(git: SimpleGit, tip: string, commit: string): Promise<boolean> {
    for (let sha = tip, depth = 0; depth < 10; depth++) {
      if (sha === commit) return true;
      const message = await commitMessage(git, sha);
      if (!deployerWorkflowId(message)?.startsWith('preview-') || !message.includes(`${TRAILER_COMMIT}: ${commit}`))
        return false;
      sha = (await git.revparse([`${sha}^`])).trim();
    }
    return false;
  }

  /**
   * Fetch, decide, commit, push; on a lost race fetch and decide again. A retry after a crash
   * finds the commit it already pushed by its workflow-id trailer: one change, at most one commit.
   */
  async function commitOnBranch(
    git: SimpleGit,
    change: Change,
    branch: string,
    path: string,
    decide: (text: string, remote: string) => Promise<Attempt>,
  ): Promise<OverlayUpdate> {
    for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
      const remote = await repo.fetchBranch(git, branch);
      const mine = await mineOn(git, remote, change, path);
      if (mine) return { outcome: 'committed', overlayCommit: mine, revision: mine };
      const decided = await decide(await repo.show(git, remote, path), remote);
      if ('done' in decided) return decided.done;
      try {
        const overlayCommit = await commitAndPush(git, change, remote, branch, path, decided.text);
        return { outcome: 'committed', overlayCommit, revision: overlayCommit };
      } catch (err) {
        unlessLostRace(err, branch);
      }
    }
    throw new Error(
      `${branch} kept moving: ${PUSH_ATTEMPTS} pushes lost the race with other pushes; the activity will retry`,
    );
  }

  /** The commit a `sha-<7 hex>` tag was built from, if the clone knows it. */
  async function tagCommit(git: SimpleGit, tag: string | undefined): Promise<string | undefined> {
    const short = tag && SHA_TAG.test(tag) ? tag.slice(4) : undefined;
    if (!short) return undefined;
    return (
      (await git.raw(['rev-parse', '--verify', '--quiet', `${short}^{commit}`]).catch(() => '')).trim() || undefined
    );
  }

  /** Production: main's overlay, whose tag only moves forward in git history unless a person rolls back. */
  function production(git: SimpleGit, change: Exclude<Change, { kind: 'preview' }>): Promise<OverlayUpdate> {
    const { path } = config.overlay;
    const main = config.repository.mainBranch;
    return commitOnBranch(git, change, main, path, async (text, remote) => {
      const currentTag = overlayImages(text, `${path} on ${main}`).find(
        (image) => image.name === config.images[0]!.name,
      )?.newTag;
      const current = await tagCommit(git, currentTag);
      if (
        change.kind === 'deploy' &&
        current &&
        current !== change.commit &&
        (await repo.isAncestor(git, change.commit, current))
      ) {
        return {
          done: {
            outcome: 'superseded',
            overlayCommit: null,
            revision: current,
            current: { tag: currentTag!, commit: current },
          },
        };
      }
      const edited = edit(text, change.tag, `${path} on ${main}`);
      if (edited.changed) return { text: edited.text };
      return {
        done: {
          outcome: 'unchanged',
          overlayCommit: null,
          revision: change.kind === 'deploy' ? change.commit : (await git.revparse([remote])).trim(),
        },
      };
    });
  }

  /**
   * A preview on the PR branch: its overlay, committed on top of exactly the commit being
   * previewed. A branch that moved means the author pushed again: that push has its own deploy.
   */
  function previewOnHead(git: SimpleGit, change: PreviewChange, path: string): Promise<OverlayUpdate> {
    return commitOnBranch(git, change, change.branch, path, async (text, remote) => {
      const tip = (await git.revparse([remote])).trim();
      if (!(await onlyOursAbove(git, tip, change.commit))) return { done: movedOn(text, tip) };
      const edited = edit(text, change.tag, `${path} on ${change.branch}`);
      return edited.changed
        ? { text: edited.text }
        : { done: { outcome: 'unchanged', overlayCommit: null, revision: change.commit } };
    });
  }

  /**
   * A preview on the deployer's own branch (preview.branch): the previewed commit plus one overlay
   * commit, force-pushed there, so the PR branch never sees a deployer commit. Forced only over the
   * deployer's own commit and only if the branch is where this attempt found it (a lease).
   */
  async function previewOnOwnBranch(
    git: SimpleGit,
    change: PreviewChange,
    target: string,
    path: string,
  ): Promise<OverlayUpdate> {
    if (target === change.branch)
      throw permanent(
        `preview.branch ${target} is the pull request's own branch; choose another template`,
        'PreviewBranchClash',
      );
    for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
      const head = await repo.fetchBranch(git, change.branch);
      const tip = (await git.revparse([head])).trim();
      if (tip !== change.commit) return movedOn(await repo.show(git, head, path), tip);
      const current = await ownBranchTip(git, target);
      // A retry after a crash: the branch is already this change's commit on top of the previewed head.
      if (current && (await commitMessage(git, current)).includes(`${TRAILER_WORKFLOW}: ${change.workflowId}`)) {
        const parent = (await git.revparse([`${current}^`])).trim();
        if (parent === change.commit && (await tagAt(git, current, path)) === change.tag)
          return { outcome: 'committed', overlayCommit: current, revision: current };
      }
      const edited = edit(
        await repo.show(git, change.commit, path),
        change.tag,
        `${path} at ${change.commit.slice(0, 7)}`,
      );
      try {
        const overlayCommit = await commitAndPush(git, change, change.commit, target, path, edited.text, current);
        return { outcome: 'committed', overlayCommit, revision: overlayCommit };
      } catch (err) {
        unlessLostRace(err, target);
      }
    }
    throw new Error(
      `${target} kept moving: ${PUSH_ATTEMPTS} pushes lost the race with other pushes; the activity will retry`,
    );
  }

  /** The tip of the deployer's own branch ('' when absent); a branch whose tip is not a deployer commit is refused, never overwritten. */
  async function ownBranchTip(git: SimpleGit, target: string): Promise<string> {
    let remote: string;
    try {
      remote = await repo.fetchBranch(git, target);
    } catch (err) {
      if ((err as { type?: string }).type === 'BranchNotFound') return '';
      throw err;
    }
    const tip = (await git.revparse([remote])).trim();
    if (!deployerWorkflowId(await commitMessage(git, tip))?.startsWith('preview-')) {
      throw permanent(
        `${target} exists and its tip ${tip.slice(0, 7)} is not a deployer commit: refusing to overwrite or delete a branch the deployer does not own (check preview.branch)`,
        'PreviewBranchNotOwned',
      );
    }
    return tip;
  }

  function movedOn(text: string, tip: string): OverlayUpdate {
    const tag = overlayImagesOrNone(text).find((image) => image.name === config.images[0]!.name)?.newTag ?? 'unknown';
    return { outcome: 'superseded', overlayCommit: null, revision: tip, current: { tag, commit: tip } };
  }

  function preview(git: SimpleGit, change: PreviewChange): Promise<OverlayUpdate> {
    if (!config.preview)
      throw permanent(
        'previews are not configured: add a preview section to the configuration',
        'PreviewNotConfigured',
      );
    const path = config.preview.overlayPath;
    return change.target ? previewOnOwnBranch(git, change, change.target, path) : previewOnHead(git, change, path);
  }

  /** Step `remove-preview-branch`: the PR closed, so its preview branch goes (only if the deployer's; gone already is fine). */
  async function removePreviewBranch(raw: { branch: string }): Promise<{ removed: boolean }> {
    const { branch } = checkInput(z.object({ branch: branchName }), raw, 'remove-preview-branch');
    return repo.exclusive(async (git) => {
      const tip = await ownBranchTip(git, branch);
      if (!tip) return { removed: false };
      try {
        await git.raw(['push', `--force-with-lease=refs/heads/${branch}:${tip}`, 'origin', `:refs/heads/${branch}`]);
      } catch (err) {
        // Gone already is what we wanted; a lease that no longer holds means someone else pushed there: decide again on the retry.
        if (!isMissingRef(err)) gitFailure(err, { origin: repo.origin, branch, action: 'push' });
      }
      return { removed: true };
    });
  }

  async function updateOverlay(raw: OverlayChange): Promise<OverlayUpdate> {
    const change = checkInput(updateInput, raw, 'update-overlay');
    return repo.exclusive((git) => (change.kind === 'preview' ? preview(git, change) : production(git, change)));
  }

  return { updateOverlay, removePreviewBranch };
}
