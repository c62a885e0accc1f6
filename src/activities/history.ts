import type { SimpleGit } from 'simple-git';
import { z } from 'zod';
import type { ProductionTarget } from '../plan/environment';
import { productionTagProblem } from '../plan/tags';
import { TRAILER_COMMIT, TRAILER_REQUESTED_BY, TRAILER_WORKFLOW } from '../plan/trailers';
import { permanent } from './failures';
import type { RepoCache } from './git';
import { overlayImages, overlayImagesOrNone } from './overlay-file';
import { checkInput, fullSha } from './input';
import { count, short, stepLog } from './log';

const listInput = z.object({ limit: z.number().int().min(1).max(100).default(20) });
const orderInput = z.object({ commits: z.array(fullSha).max(200) });
const commitInput = z.object({ commit: fullSha.optional() });
const SEP = '\x1f';

export interface HistoryDeps {
  repo: RepoCache;
  /** The production overlay, on the main branch. */
  overlayPath: string;
  mainBranch: string;
  images: Array<{ name: string }>;
  /** Whether the registry has every image at the tag. */
  imagesExist: (tag: string) => Promise<boolean>;
}

/** Reads production's history from git: the overlay's log is the deployment log (GitOps). */
export function historySteps({ repo, overlayPath: path, mainBranch, images, imagesExist }: HistoryDeps) {
  const first = images[0]!.name;

  /** Step `read-running-tag` (Path 2): the tag the production overlay names at the merge commit, or on main's tip. */
  async function readRunningTag(raw: { commit?: string }): Promise<{ tag: string }> {
    const { commit } = checkInput(commitInput, raw, 'read-running-tag');
    const text = await repo.exclusive(async (git) => {
      if (commit) await repo.ensureCommit(git, commit);
      else await repo.fetchMain(git);
      return repo.show(git, commit ?? repo.remoteMain, path);
    });
    const named = overlayImages(text, `${path} at ${commit ? commit.slice(0, 7) : mainBranch}`);
    const tags = new Set<string>();
    for (const { name } of images) {
      const tag = named.find((image) => image.name === name)?.newTag;
      const problem = productionTagProblem(name, tag);
      if (problem) throw permanent(problem, 'InvalidProductionTag');
      tags.add(tag!);
    }
    if (tags.size > 1) {
      throw permanent(
        `Production images run different tags (${[...tags].join(', ')}); CI builds all images at one tag, so set every newTag in ${path} to the same sha-<commit>.`,
        'InvalidProductionTag',
      );
    }
    const tag = [...tags][0]!;
    stepLog.info(`${path} ${commit ? `at ${short(commit)}` : `on ${mainBranch}`} names ${tag}`, {
      tag,
      ...(commit && { commit }),
    });
    return { tag };
  }

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
      overlayImages(await repo.show(git, repo.remoteMain, path), `${path} on ${mainBranch}`);
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
    const usable = entries.filter((entry) => entry.imagesExist).length;
    stepLog.info(
      `listed ${count(entries.length, 'production tag')} from the history of ${path} on ${mainBranch}, ${usable} with every image in the registry`,
      { targets: entries.length, withImages: usable },
    );
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
    const heads = await repo.exclusive(async (git) => {
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
    stepLog.info(`ordered ${unique.length} queued commits: newest ${heads.map(short).join(', ')}`, {
      commits: unique.length,
      newest: heads,
    });
    return heads;
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

  return { readRunningTag, listTargets, orderCommits };
}
