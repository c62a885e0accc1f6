import { z } from 'zod';
import type { DeployConfig } from '../config/schema';
import { readOverlayImages } from '../plan/overlay';
import type { ProductionTarget } from '../plan/environment';
import { TRAILER_COMMIT, TRAILER_REQUESTED_BY, TRAILER_WORKFLOW } from '../plan/trailers';
import type { RepoCache } from './git';
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
      const format = ['%H', '%an', '%aI', '%s', `%(trailers:key=${TRAILER_COMMIT},valueonly,separator=)`, `%(trailers:key=${TRAILER_REQUESTED_BY},valueonly,separator=)`, `%(trailers:key=${TRAILER_WORKFLOW},valueonly,separator=)`].join(SEP);
      // Several commits of the overlay may share a tag (config edits): read enough to find `limit` tags.
      const log = await git.raw(['log', repo.remoteMain, `-n${limit * 5}`, `--format=${format}%x1e`, '--', path]);
      const found: ProductionTarget[] = [];
      for (const record of log.split('\x1e').map((r) => r.trim()).filter(Boolean)) {
        const [overlayCommit, author, date, subject, deployedCommit, requestedBy, workflowId] = record.split(SEP).map((f) => f.trim());
        const tag = readOverlayImages(await git.show([`${overlayCommit}:${path}`]).catch(() => '')).find((i) => i.name === first)?.newTag;
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

  /** Step `order-commits`: the given commits of main, newest first (a descendant before its ancestors). */
  async function orderCommits(raw: { commits: string[] }): Promise<string[]> {
    const { commits } = checkInput(orderInput, raw, 'order-commits');
    if (commits.length < 2) return commits;
    return repo.exclusive(async (git) => {
      for (const commit of commits) await repo.ensureCommit(git, commit);
      const remaining = [...new Set(commits)];
      const ordered: string[] = [];
      // Selection by ancestry: the next is one that no other remaining commit descends from.
      while (remaining.length) {
        let newest = 0;
        for (let i = 1; i < remaining.length; i++) {
          if (await repo.isAncestor(git, remaining[newest]!, remaining[i]!)) newest = i;
        }
        ordered.push(...remaining.splice(newest, 1));
      }
      return ordered;
    });
  }

  return { listTargets, orderCommits };
}
