import type { SimpleGit } from 'simple-git';
import { z } from 'zod';
import type { DeployConfig } from '../config/schema';
import type { ProductionTarget } from '../plan/environment';
import { TRAILER_COMMIT, TRAILER_REQUESTED_BY, TRAILER_WORKFLOW } from '../plan/trailers';
import type { RepoCache } from './git';
import { overlayImages, overlayImagesOrNone } from './overlay-file';
import { checkInput, fullSha } from './input';

const listInput = z.object({ limit: z.number().int().min(1).max(100).default(20) });
const orderInput = z.object({ commits: z.array(fullSha).max(200) });
const SEP = '\x1f';

/** Reads production's history from git: the overlay's log is the deployment log (GitOps). */
export function historySteps(config: DeployConfig, repo: RepoCache, imagesExist: (tag: string) => Promise<boolean>) {
  const path = config.overlay.path;
  const first = config.images[0]!.name;

  /** Step `list-targets`: previous production tags, newest first, each checked against the registry. */
  async function listTargets(raw: { limit?: number }): Promise<ProductionTarget[]> {
    const { limit } = checkInput(listInput, raw, 'list-targets');
    const entries = await repo.exclusive(async (git) => {
      await repo.fetchMain(git);
      const format = [
        '%H',
        '%an',
        '%aI',
        '%s',
        `%(trailers:key=${TRAILER_COMMIT},valueonly,separator=)`,
        `%(trailers:key=${TRAILER_REQUESTED_BY},valueonly,separator=)`,
        `%(trailers:key=${TRAILER_WORKFLOW},valueonly,separator=)`,
      ].join(SEP);
      // Several commits of the overlay may share a tag (config edits): read enough to find `limit` tags.
      // The overlay as it is now must be readable (a rollback edits it); old versions are only read.
      overlayImages(await repo.show(git, repo.remoteMain, path), `${path} on ${config.repository.mainBranch}`);
      const log = await git.raw(['log', repo.remoteMain, `-n${limit * 5}`, `--format=${format}%x1e`, '--', path]);
      const found: ProductionTarget[] = [];
      for (const record of log
        .split('\x1e')
        .map((r) => r.trim())
        .filter(Boolean)) {
        const [overlayCommit, author, date, subject, deployedCommit, requestedBy, workflowId] = record
          .split(SEP)
          .map((f) => f.trim());
        const tag = overlayImagesOrNone(await git.show([`${overlayCommit}:${path}`]).catch(() => '')).find(
          (i) => i.name === first,
        )?.newTag;
        if (!tag || found.at(-1)?.tag === tag) continue;
        found.push({
          tag,
          overlayCommit: overlayCommit!,
          date: date!,
          by: requestedBy || author!,
          subject: subject!,
          deployedCommit: deployedCommit || undefined,
          kind: subject!.startsWith('rollback:') ? 'rollback' : workflowId ? 'deploy' : 'manual',
          imagesExist: false,
        });
        if (found.length >= limit) break;
      }
      return found;
    });
    // The registry's retention may have removed old images: a target without them cannot be rolled back to.
    await Promise.all(entries.map(async (entry) => (entry.imagesExist = await imagesExist(entry.tag))));
    return entries;
  }

  /**
   * Step `order-commits`: of the given commits, the ones no other given commit descends from (the
   * newest in git history; one on a linear main). One `git merge-base --independent` answers it,
   * whatever the number of commits; only commits the clone lacks cost a fetch.
   */
  async function orderCommits(raw: { commits: string[] }): Promise<string[]> {
    const { commits } = checkInput(orderInput, raw, 'order-commits');
    const unique = [...new Set(commits.map((c) => c.toLowerCase()))];
    if (unique.length < 2) return unique;
    return repo.exclusive(async (git) => {
      const known = await independent(git, unique);
      if (known) return known;
      // Queued commits are main's: one fetch of main brings them; only what it did not costs more.
      await repo.fetchMain(git);
      const fetched = await independent(git, unique);
      if (fetched) return fetched;
      for (const commit of unique) await repo.ensureCommit(git, commit);
      const ordered = await independent(git, unique);
      if (!ordered) throw new Error(`git merge-base --independent gave no answer for ${unique.length} commits`);
      return ordered;
    });
  }

  /** The independent commits, or undefined when git could not answer (a commit the clone lacks). */
  async function independent(git: SimpleGit, commits: string[]): Promise<string[] | undefined> {
    const out = await git.raw(['merge-base', '--independent', ...commits]).catch(() => '');
    const heads = out
      .split('\n')
      .map((line) => line.trim().toLowerCase())
      .filter(Boolean);
    // simple-git may report a failed git as empty output: an answer must name given commits only.
    return heads.length && heads.every((h) => commits.includes(h)) ? heads : undefined;
  }

  return { listTargets, orderCommits };
}
