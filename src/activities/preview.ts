import { z } from 'zod';
import type { DeployConfig } from '../config/schema';
import { classifyChanges, compileRules } from '../plan/classify';
import { previewName, sameCodeCommits, type PreviewDetection } from '../plan/preview';
import type { DeployPlan } from '../workflows/types';
import { ciSkipped, parseNameStatus, repositoryWebUrl } from './detect';
import { permanent } from './failures';
import { commitMessage, EMPTY_TREE, type RepoCache } from './git';
import { branchName, checkInput, fullSha, imageTag } from './input';

const detectInput = z.object({
  pr: z.number().int().positive(),
  commit: fullSha,
  baseRef: branchName,
  headRef: branchName,
  /** The PR's commits, newest first, from GitHub. */
  commits: z.array(z.object({ sha: fullSha, overlay: z.boolean() })).max(250),
});
const findInput = z.object({ candidates: z.array(z.object({ commit: fullSha, tag: imageTag })).max(250) });
/** Registry lookups in flight at once while searching the PR's history. */
const PROBES = 4;

/** Where the walk back starts: at the head, or (GitHub not listing it yet) at the newest commit listed. */
const headAt = (input: { commit: string; commits: Array<{ sha: string }> }) =>
  Math.max(
    0,
    input.commits.findIndex((c) => c.sha === input.commit),
  );

export type PreviewPlan = DeployPlan & PreviewDetection & { headRef: string };

export interface PreviewSettings {
  application: string;
  /** The deployer's own preview branch of this PR (preview.branch), or null: the PR branch itself. */
  branch: string | null;
  syncTimeoutMs: number;
  searchAttributes: boolean;
  continueAsNewAfter: number;
}

function previewConfig(config: DeployConfig): NonNullable<DeployConfig['preview']> {
  if (!config.preview)
    throw permanent(
      'previews are not configured: add a preview section (overlayPath, application) to the configuration',
      'PreviewNotConfigured',
    );
  return config.preview;
}

/** The preview steps that read git and the registry: detect against the PR's base, search its history. */
export function previewSteps(config: DeployConfig, repo: RepoCache, imagesExist: (tag: string) => Promise<boolean>) {
  const matchers = compileRules(config.changeRules);
  const imageNames = config.images.map((image) => image.name);
  const isCode = (changes: ReturnType<typeof parseNameStatus>) =>
    classifyChanges(changes, matchers, imageNames).path === 'code';

  /** Step `detect` of a preview: the PR against its merge base, and which of its commits have the head's code. */
  async function detectPreview(raw: z.input<typeof detectInput>): Promise<PreviewPlan> {
    const input = checkInput(detectInput, raw, 'detect');
    const { searchDepth } = previewConfig(config);
    const { prChanges, differs, message } = await repo.exclusive(async (git) => {
      await repo.fetchBranch(git, input.headRef);
      await repo.ensureCommit(git, input.commit);
      const base = await repo.fetchBranch(git, input.baseRef);
      const mergeBase = (await git.raw(['merge-base', base, input.commit]).catch(() => '')).trim() || EMPTY_TREE;
      const diff = async (from: string) =>
        parseNameStatus(await git.raw(['diff', '--name-status', '-z', '-M', from, input.commit]));
      // Walk back from the head until a commit's code differs; that is as far as its builds can be reused.
      const differs = new Map<string, boolean>();
      for (const commit of input.commits.slice(headAt(input))) {
        if (commit.overlay || commit.sha === input.commit) continue;
        if (differs.size >= searchDepth) break;
        const other = !(await repo.hasCommit(git, commit.sha)) || isCode(await diff(commit.sha));
        differs.set(commit.sha, other);
        if (other) break;
      }
      return { prChanges: await diff(mergeBase), differs, message: await commitMessage(git, input.commit) };
    });
    const classification = classifyChanges(prChanges, matchers, imageNames);
    return {
      path: classification.path,
      reason:
        classification.path === 'none'
          ? `the pull request changes nothing deployable (${classification.reason})`
          : `pull request #${input.pr}: ${classification.reason}`,
      images: classification.images,
      sameCode: sameCodeCommits(
        input.commits.slice(headAt(input)),
        input.commit,
        (sha) => differs.get(sha) ?? true,
        searchDepth,
      ),
      ...ciSkipped(message),
      headRef: input.headRef,
      changedFiles: prChanges.length,
      repositoryUrl: repositoryWebUrl(config),
      searchAttributes: config.temporal.searchAttributes,
      ciTimeoutMs: config.ci.timeout,
      ciPollInitialMs: config.ci.pollInitial,
      ciPollMaxMs: config.ci.pollMax,
      ciRerunWindowMs: config.ci.rerunWindow,
      syncTimeoutMs: config.preview?.syncTimeout ?? config.argocd.syncTimeout,
    };
  }

  /** Step `search-images`: the first candidate (newest first) whose images all exist, or null. */
  async function findPreviewImages(raw: z.input<typeof findInput>): Promise<{ commit: string; tag: string } | null> {
    const { candidates } = checkInput(findInput, raw, 'search-images');
    for (let i = 0; i < candidates.length; i += PROBES) {
      const batch = candidates.slice(i, i + PROBES);
      const exist = await Promise.all(batch.map((c) => imagesExist(c.tag)));
      const hit = batch.find((_, index) => exist[index]);
      if (hit) return hit;
    }
    return null;
  }

  /** The worker's preview policy, read at each run so a config change applies. */
  async function previewSettings(raw: { pr: number }): Promise<PreviewSettings> {
    const { pr } = checkInput(z.object({ pr: z.number().int().positive() }), raw, 'preview-settings');
    const preview = previewConfig(config);
    return {
      application: previewName(preview.application, pr),
      branch: preview.branch ? previewName(preview.branch, pr) : null,
      syncTimeoutMs: preview.syncTimeout ?? config.argocd.syncTimeout,
      searchAttributes: config.temporal.searchAttributes,
      continueAsNewAfter: config.environment.continueAsNewAfter,
    };
  }

  return { detectPreview, findPreviewImages, previewSettings };
}
