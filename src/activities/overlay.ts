import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { DeployConfig } from '../config/schema';
import { OverlayError, setOverlayImages } from '../plan/overlay';
import type { OverlayUpdate } from '../workflows/types';
import { permanent } from './failures';
import type { RepoCache } from './git';
import { checkInput, fullSha, imageTag } from './input';
import { registryHost } from './registry';

const updateInput = z.object({ tag: imageTag, commit: fullSha, workflowId: z.string().min(1) });

/** Trailers that mark the deployer's own commits (the relay ignores pushes carrying them). */
export const TRAILER_COMMIT = 'Deployed-Commit';
export const TRAILER_WORKFLOW = 'Deploy-Workflow-Id';
const PUSH_ATTEMPTS = 5;

export function overlayCommitMessage(tag: string, commit: string, workflowId: string): string {
  // `[skip ci]` ends the subject: GitHub skips CI for it, and trailers must stay the last paragraph.
  return `deploy: production to ${tag} [skip ci]\n\nSet ${tag} (built by CI from ${commit.slice(0, 7)}) in the production overlay.\n\n${TRAILER_COMMIT}: ${commit}\n${TRAILER_WORKFLOW}: ${workflowId}\n`;
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

  async function updateOverlay(raw: { tag: string; commit: string; workflowId: string }): Promise<OverlayUpdate> {
    const { tag, commit, workflowId } = checkInput(updateInput, raw, 'update-overlay');
    const updates = config.images.map((image) => ({ name: image.name, newName: `${host}/${image.repository}`, newTag: tag }));
    return repo.exclusive(async (git) => {
      for (let attempt = 1; attempt <= PUSH_ATTEMPTS; attempt++) {
        await repo.fetchMain(git);
        // A retry after a crash finds the commit it already pushed: one deploy, at most one commit.
        const mine = (await git.raw(['log', repo.remoteMain, '-n', '1', '--format=%H', '--fixed-strings', `--grep=${TRAILER_WORKFLOW}: ${workflowId}`, '--', path])).trim();
        if (mine) return { overlayCommit: mine, revision: mine };

        let edited: { text: string; changed: boolean };
        try {
          edited = setOverlayImages(await repo.show(git, repo.remoteMain, path), updates);
        } catch (err) {
          if (err instanceof OverlayError) throw permanent(`${path} on ${branch}: ${err.message}`, 'OverlayError');
          throw err;
        }
        if (!edited.changed) return { overlayCommit: null, revision: commit };

        await git.raw(['checkout', '--force', '-B', 'gitops-deployer', repo.remoteMain]);
        writeFileSync(join(repo.dir, path), edited.text);
        await git.add(path);
        await git.commit(overlayCommitMessage(tag, commit, workflowId));
        const overlayCommit = (await git.revparse(['HEAD'])).trim();
        try {
          await git.push('origin', `HEAD:refs/heads/${branch}`);
          return { overlayCommit, revision: overlayCommit };
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
