import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { DeployConfig } from '../config/schema';
import type { SimpleGit } from 'simple-git';
import { OverlayError, readOverlayImages, setOverlayImages } from '../plan/overlay';
import { SHA_TAG } from '../plan/tags';
import type { OverlayUpdate } from '../workflows/types';
import { permanent } from './failures';
import type { RepoCache } from './git';
import { checkInput, fullSha, imageTag } from './input';
import { registryHost } from './registry';

const sameLine = (max: number) => z.string().min(1).max(max).regex(/^[^\r\n]*$/, 'must be one line');
const updateInput = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('deploy'), tag: imageTag, workflowId: z.string().min(1), commit: fullSha }),
  z.object({ kind: z.literal('rollback'), tag: imageTag, workflowId: z.string().min(1), reason: sameLine(500), requestedBy: sameLine(200) }),
]);
export type OverlayChange = z.input<typeof updateInput>;

/** Trailers that mark the deployer's own commits (the relay ignores pushes carrying them). */
export const TRAILER_COMMIT = 'Deployed-Commit';
export const TRAILER_WORKFLOW = 'Deploy-Workflow-Id';
export const TRAILER_REQUESTED_BY = 'Requested-By';
const PUSH_ATTEMPTS = 5;

/** `[skip ci]` ends the subject: GitHub skips CI for it, and trailers must stay the last paragraph. */
export function overlayCommitMessage(change: z.output<typeof updateInput>): string {
  if (change.kind === 'rollback') {
    return `rollback: revert to ${change.tag} [skip ci]\n\n${change.reason}\n\n${TRAILER_REQUESTED_BY}: ${change.requestedBy}\n${TRAILER_WORKFLOW}: ${change.workflowId}\n`;
  }
  return `deploy: production to ${change.tag} [skip ci]\n\nSet ${change.tag} (built by CI from ${change.commit.slice(0, 7)}) in the production overlay.\n\n${TRAILER_COMMIT}: ${change.commit}\n${TRAILER_WORKFLOW}: ${change.workflowId}\n`;
}

/**
 * Only a lost race with another push is worth a fetch and retry: main moved before our push
 * (non-fast-forward) or during it (the remote's compare-and-swap of the ref failed).
 */
export function isLostPushRace(err: unknown): boolean {
  return /non-fast-forward|fetch first|stale info|cannot lock ref|failed to update ref/.test(String((err as Error)?.message ?? err));
}

/** Step `update-overlay`: commit the tag into the production overlay on main, at most once per deploy. */
export function overlaySteps(config: DeployConfig, repo: RepoCache) {
  const path = config.overlay.path;
  const branch = config.repository.mainBranch;
  const host = registryHost(config.registry.endpoint);

  /** The commit a `sha-<7 hex>` tag was built from, if the clone knows it. */
  async function tagCommit(git: SimpleGit, tag: string | undefined): Promise<string | undefined> {
    const short = tag && SHA_TAG.test(tag) ? tag.slice(4) : undefined;
    if (!short) return undefined;
    return (await git.raw(['rev-parse', '--verify', '--quiet', `${short}^{commit}`]).catch(() => '')).trim() || undefined;
  }

  async function updateOverlay(raw: OverlayChange): Promise<OverlayUpdate> {
    const change = checkInput(updateInput, raw, 'update-overlay');
    const updates = config.images.map((image) => ({ name: image.name, newName: `${host}/${image.repository}`, newTag: change.tag }));
    return repo.exclusive(async (git) => {
      for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
        await repo.fetchMain(git);
        // A retry after a crash finds the commit it already pushed: one change, at most one commit.
        const mine = (await git.raw(['log', repo.remoteMain, '-n', '1', '--format=%H', '--fixed-strings', `--grep=${TRAILER_WORKFLOW}: ${change.workflowId}`, '--', path])).trim();
        if (mine) return { outcome: 'committed', overlayCommit: mine, revision: mine };

        const text = await repo.show(git, repo.remoteMain, path);
        const currentTag = readOverlayImages(text).find((image) => image.name === updates[0]!.name)?.newTag;
        const current = await tagCommit(git, currentTag);
        // The safety net: production's tag only moves forward in git history, unless a person rolls back.
        if (change.kind === 'deploy' && current && current !== change.commit && (await repo.isAncestor(git, change.commit, current))) {
          return { outcome: 'superseded', overlayCommit: null, revision: current, current: { tag: currentTag!, commit: current } };
        }
        let edited: { text: string; changed: boolean };
        try {
          edited = setOverlayImages(text, updates);
        } catch (err) {
          if (err instanceof OverlayError) throw permanent(`${path} on ${branch}: ${err.message}`, 'OverlayError');
          throw err;
        }
        if (!edited.changed) return { outcome: 'unchanged', overlayCommit: null, revision: change.kind === 'deploy' ? change.commit : (await git.revparse([repo.remoteMain])).trim() };

        await git.raw(['checkout', '--force', '-B', 'gitops-deployer', repo.remoteMain]);
        writeFileSync(join(repo.dir, path), edited.text);
        await git.add(path);
        await git.commit(overlayCommitMessage(change));
        const overlayCommit = (await git.revparse(['HEAD'])).trim();
        try {
          await git.push('origin', `HEAD:refs/heads/${branch}`);
          return { outcome: 'committed', overlayCommit, revision: overlayCommit };
        } catch (err) {
          if (!isLostPushRace(err)) {
            throw /403|401|denied|protected branch/i.test(String(err)) ? permanent(`push to ${branch} refused: ${(err as Error).message}`, 'PushRefused') : err;
          }
          // Someone pushed to main meanwhile: fetch and re-apply on the new main.
        }
      }
      throw new Error(`main kept moving: ${PUSH_ATTEMPTS} pushes lost the race with other pushes; the activity will retry`);
    });
  }

  return { updateOverlay };
}
