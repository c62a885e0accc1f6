import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimpleGit } from 'simple-git';
import { z } from 'zod';
import type { OverlayUpdate } from '../contract/deploy';
import { OverlayError, setOverlayImages } from '../plan/overlay';
import type { TagRule } from '../plan/tag-rule';
import { SHA_TAG } from '../plan/tags';
import {
  deployerWorkflowId,
  TRAILER_COMMIT,
  TRAILER_REQUESTED_BY,
  TRAILER_RULE,
  TRAILER_WORKFLOW,
} from '../plan/trailers';
import { permanent, previewsConfigured } from './failures';
import { commitMessage, type PushDecision, type RepoCache } from './git';
import { overlayImages, overlayImagesOrNone } from './overlay-file';
import { branchName, checkInput, fullSha, imageTag, prNumber } from './input';
import { short, stepLog } from './log';

export { TRAILER_COMMIT, TRAILER_REQUESTED_BY, TRAILER_WORKFLOW };

const sameLine = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\r\n]*$/, 'must be one line');
/** Every rule of plan/tag-rule.ts, checked by the compiler both ways. */
const TAG_RULES = {
  ci: 'ci',
  running: 'running',
  'pr-history': 'pr-history',
  production: 'production',
} as const satisfies {
  [R in TagRule]: R;
};
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
    pr: prNumber,
    branch: branchName,
    rule: z.enum(TAG_RULES),
    /** The deployer's own preview branch (preview.branch, as the PR's workflow read it), or null: the PR branch. */
    target: branchName.nullable().default(null),
  }),
]);
export type OverlayChange = z.input<typeof updateInput>;
type Change = z.output<typeof updateInput>;
type PreviewChange = Extract<Change, { kind: 'preview' }>;

export interface OverlayDeps {
  repo: RepoCache;
  /** What the deployer sets in an overlay: each image's kustomize name and its full name (registry host/repository). */
  images: Array<{ name: string; newName: string }>;
  /** The production overlay, on the main branch. */
  overlayPath: string;
  mainBranch: string;
  /** Absent: previews are not configured. */
  preview?: { overlayPath: string };
}

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
export function overlaySteps({ repo, images, overlayPath, mainBranch, preview: previews }: OverlayDeps) {
  const first = images[0]!.name;
  const updatesFor = (tag: string) => images.map((image) => ({ ...image, newTag: tag }));
  const committed = (overlayCommit: string): OverlayUpdate => ({
    outcome: 'committed',
    overlayCommit,
    revision: overlayCommit,
  });

  function edit(text: string, tag: string, where: string): { text: string; changed: boolean } {
    try {
      return setOverlayImages(text, updatesFor(tag));
    } catch (err) {
      if (err instanceof OverlayError) throw permanent(`${where}: ${err.message}`, 'OverlayError');
      throw err;
    }
  }

  /** Commits the overlay text on top of `base`, locally; the push is pushWithRetry's. */
  async function commitOverlay(git: SimpleGit, change: Change, base: string, path: string, text: string) {
    await git.raw(['checkout', '--force', '-B', 'gitops-deployer', base]);
    writeFileSync(join(repo.dir, path), text);
    await git.add(path);
    // Empty when the overlay already names the tag: the commit still marks the branch as the deployer's.
    const message = overlayCommitMessage(change);
    await git.raw(['commit', '--allow-empty', '-m', message]);
    const sha = (await git.revparse(['HEAD'])).trim();
    stepLog.info(`committed ${short(sha)}: ${message.split('\n')[0]}`, { overlayCommit: sha, path, tag: change.tag });
    return sha;
  }

  /** Fetches a branch and says where it is. */
  async function fetched(git: SimpleGit, branch: string): Promise<{ remote: string; tip: string }> {
    const remote = await repo.fetchBranch(git, branch);
    const tip = (await git.revparse([remote])).trim();
    stepLog.info(`fetched ${branch} to ${short(tip)}`, { branch, tip });
    return { remote, tip };
  }

  /** The line for a change that needs no commit (or has one already). */
  function settled(update: OverlayUpdate, change: Change, branch: string, path: string): OverlayUpdate {
    const fields = { branch, path, tag: change.tag, outcome: update.outcome, revision: update.revision };
    if (update.outcome === 'committed')
      stepLog.info(
        `already committed ${short(update.overlayCommit)} on ${branch}: an earlier attempt pushed it (its ${TRAILER_WORKFLOW} trailer)`,
        { ...fields, overlayCommit: update.overlayCommit },
      );
    else if (update.outcome === 'unchanged')
      stepLog.info(`${path} on ${branch} already names ${change.tag}: nothing to commit`, fields);
    else
      stepLog.info(
        `superseded: ${branch} is at ${short(update.current?.commit)} running ${update.current?.tag ?? 'unknown'}, newer than ${change.kind === 'rollback' ? change.tag : short(change.commit)}: nothing to commit`,
        { ...fields, current: update.current },
      );
    return update;
  }

  /** The tag the overlay names at a revision (the first image's). */
  async function tagAt(git: SimpleGit, rev: string, path: string): Promise<string | undefined> {
    return overlayImagesOrNone(await git.show([`${rev}:${path}`]).catch(() => '')).find((image) => image.name === first)
      ?.newTag;
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
   * Fetch, decide, commit, push (on a lost race: fetch and decide again). A retry after a crash
   * finds the commit it already pushed by its workflow-id trailer: one change, at most one commit.
   */
  function commitOnBranch(
    git: SimpleGit,
    change: Change,
    branch: string,
    path: string,
    decide: (text: string, remote: string) => Promise<Attempt>,
  ): Promise<OverlayUpdate> {
    return repo.pushWithRetry(git, branch, async (): Promise<PushDecision<OverlayUpdate>> => {
      const { remote } = await fetched(git, branch);
      const mine = await mineOn(git, remote, change, path);
      if (mine) return { done: settled(committed(mine), change, branch, path) };
      const decided = await decide(await repo.show(git, remote, path), remote);
      if ('done' in decided) return { done: settled(decided.done, change, branch, path) };
      const overlayCommit = await commitOverlay(git, change, remote, path, decided.text);
      return { push: overlayCommit, result: committed(overlayCommit) };
    });
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
    const where = `${overlayPath} on ${mainBranch}`;
    return commitOnBranch(git, change, mainBranch, overlayPath, async (text, remote) => {
      const currentTag = overlayImages(text, where).find((image) => image.name === first)?.newTag;
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
      const edited = edit(text, change.tag, where);
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
  function previewOnOwnBranch(
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
    return repo.pushWithRetry(git, target, async (): Promise<PushDecision<OverlayUpdate>> => {
      const { remote: head, tip } = await fetched(git, change.branch);
      if (tip !== change.commit)
        return { done: settled(movedOn(await repo.show(git, head, path), tip), change, change.branch, path) };
      const current = await ownBranchTip(git, target);
      // A retry after a crash: the branch is already this change's commit on top of the previewed head.
      if (current && (await commitMessage(git, current)).includes(`${TRAILER_WORKFLOW}: ${change.workflowId}`)) {
        const parent = (await git.revparse([`${current}^`])).trim();
        if (parent === change.commit && (await tagAt(git, current, path)) === change.tag)
          return { done: settled(committed(current), change, target, path) };
      }
      const edited = edit(
        await repo.show(git, change.commit, path),
        change.tag,
        `${path} at ${change.commit.slice(0, 7)}`,
      );
      const overlayCommit = await commitOverlay(git, change, change.commit, path, edited.text);
      return { push: overlayCommit, lease: current, result: committed(overlayCommit) };
    });
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
    const tag = overlayImagesOrNone(text).find((image) => image.name === first)?.newTag ?? 'unknown';
    return { outcome: 'superseded', overlayCommit: null, revision: tip, current: { tag, commit: tip } };
  }

  function preview(git: SimpleGit, change: PreviewChange): Promise<OverlayUpdate> {
    const path = previewsConfigured(previews).overlayPath;
    return change.target ? previewOnOwnBranch(git, change, change.target, path) : previewOnHead(git, change, path);
  }

  /** Step `remove-preview-branch`: the PR closed, so its preview branch goes (only if the deployer's; gone already is fine). */
  async function removePreviewBranch(raw: { branch: string }): Promise<{ removed: boolean }> {
    const { branch } = checkInput(z.object({ branch: branchName }), raw, 'remove-preview-branch');
    return repo.exclusive((git) =>
      repo.pushWithRetry(git, branch, async (): Promise<PushDecision<{ removed: boolean }>> => {
        // Deleted only at the tip found here: a push meanwhile (or a deletion) is decided again.
        const tip = await ownBranchTip(git, branch);
        if (!tip) stepLog.info(`preview branch ${branch} is gone already: nothing to remove`, { branch });
        return tip ? { push: '', lease: tip, result: { removed: true } } : { done: { removed: false } };
      }),
    );
  }

  async function updateOverlay(raw: OverlayChange): Promise<OverlayUpdate> {
    const change = checkInput(updateInput, raw, 'update-overlay');
    return repo.exclusive((git) => (change.kind === 'preview' ? preview(git, change) : production(git, change)));
  }

  return { updateOverlay, removePreviewBranch };
}
