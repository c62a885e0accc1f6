import { z } from 'zod';
import type { DeployConfig } from '../config/schema';
import { classifyChanges, compileRules, type ChangedFile } from '../plan/classify';
import { productionTagProblem, shaTag } from '../plan/tags';
import { ciSkipMarker } from '../plan/trailers';
import type { DeployPlan } from '../workflows/types';
import { permanent } from './failures';
import { overlayImages } from './overlay-file';
import { commitMessage, EMPTY_TREE, type RepoCache } from './git';
import { checkInput, fullSha } from './input';

const detectInput = z.object({ commit: fullSha, before: fullSha.optional() });
const commitInput = z.object({ commit: fullSha.optional() });

/** Parses `git diff --name-status -z` output: renames and copies carry the old path too. */
export function parseNameStatus(output: string): ChangedFile[] {
  const fields = output.split('\0').filter((field) => field !== '');
  const changes: ChangedFile[] = [];
  for (let i = 0; i < fields.length;) {
    const status = fields[i++]!;
    if (status.startsWith('R') || status.startsWith('C')) {
      changes.push({ previousPath: fields[i++]!, path: fields[i++]! });
    } else {
      changes.push({ path: fields[i++]! });
    }
  }
  return changes;
}

/** `{ ciSkipped }` when the message makes GitHub skip CI for the commit, else nothing. */
export function ciSkipped(message: string): { ciSkipped?: string } {
  const marker = ciSkipMarker(message);
  return marker ? { ciSkipped: marker } : {};
}

/** api.github.com → github.com; GitHub Enterprise's https://host/api/v3 → https://host. */
export function repositoryWebUrl(config: DeployConfig): string {
  const api = new URL(config.github.apiUrl);
  const web = api.hostname === 'api.github.com' ? 'https://github.com' : `${api.protocol}//${api.host}`;
  return `${web}/${config.repository.owner}/${config.repository.name}`;
}

export function detectSteps(config: DeployConfig, repo: RepoCache) {
  const matchers = compileRules(config.changeRules);
  const imageNames = config.images.map((image) => image.name);

  /** Step `detect`: what the push changed and which path it takes. */
  async function detectChanges(raw: { commit: string; before?: string }): Promise<DeployPlan> {
    const { commit, before } = checkInput(detectInput, raw, 'detect');
    const { changes, message } = await repo.exclusive(async (git) => {
      await repo.ensureCommit(git, commit);
      let base: string | undefined;
      if (before && !/^0+$/.test(before)) {
        base = await repo.ensureCommit(git, before).then(
          () => before,
          () => undefined,
        );
      }
      // A new branch (all-zero before) or a before that vanished (force push) compares with the parent.
      base ??= await git.revparse([`${commit}^`]).catch(() => EMPTY_TREE);
      return {
        changes: parseNameStatus(await git.raw(['diff', '--name-status', '-z', '-M', base, commit])),
        message: await commitMessage(git, commit),
      };
    });
    const classification = classifyChanges(changes, matchers, imageNames);
    return {
      path: classification.path,
      reason: classification.reason,
      images: classification.images,
      tag: classification.path === 'code' ? shaTag(commit) : undefined,
      ...ciSkipped(message),
      changedFiles: changes.length,
      repositoryUrl: repositoryWebUrl(config),
      searchAttributes: config.temporal.searchAttributes,
      ciTimeoutMs: config.ci.timeout,
      ciPollInitialMs: config.ci.pollInitial,
      ciPollMaxMs: config.ci.pollMax,
      ciRerunWindowMs: config.ci.rerunWindow,
      syncTimeoutMs: config.argocd.syncTimeout,
    };
  }

  /** Step `read-running-tag` (Path 2): the tag the production overlay names at the merge commit, or on main's tip. */
  async function readRunningTag(raw: { commit?: string }): Promise<{ tag: string }> {
    const { commit } = checkInput(commitInput, raw, 'read-running-tag');
    const text = await repo.exclusive(async (git) => {
      if (commit) await repo.ensureCommit(git, commit);
      else await repo.fetchMain(git);
      return repo.show(git, commit ?? repo.remoteMain, config.overlay.path);
    });
    const images = overlayImages(
      text,
      `${config.overlay.path} at ${commit ? commit.slice(0, 7) : config.repository.mainBranch}`,
    );
    const tags = new Set<string>();
    for (const name of imageNames) {
      const tag = images.find((image) => image.name === name)?.newTag;
      const problem = productionTagProblem(name, tag);
      if (problem) throw permanent(problem, 'InvalidProductionTag');
      tags.add(tag!);
    }
    if (tags.size > 1) {
      throw permanent(
        `Production images run different tags (${[...tags].join(', ')}); CI builds all images at one tag, so set every newTag in ${config.overlay.path} to the same sha-<commit>.`,
        'InvalidProductionTag',
      );
    }
    return { tag: [...tags][0]! };
  }

  return { detectChanges, readRunningTag };
}
