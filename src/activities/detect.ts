import type { SimpleGit } from 'simple-git';
import { z } from 'zod';
import type { DeployPlan } from '../contract/deploy';
import {
  classifyChanges,
  compileRules,
  type ChangedFile,
  type ChangeRules,
  type Classification,
} from '../plan/classify';
import { sameCodeCommits } from '../plan/preview';
import { reportSettingsFor, type ReportConfig } from '../plan/report';
import { ciSkipMarker } from '../plan/trailers';
import { previewsConfigured } from './failures';
import { commitMessage, EMPTY_TREE, type RepoCache } from './git';
import { branchName, checkInput, fullSha, previewTarget, productionTarget, targetInput } from './input';
import { count, short, stepLog } from './log';

const productionInput = z.object({ target: productionTarget, commit: fullSha, before: fullSha.optional() });
const previewInput = z.object({
  target: previewTarget,
  commit: fullSha,
  baseRef: branchName,
  headRef: branchName,
  /** The PR's commits, newest first, from GitHub. */
  commits: z.array(z.object({ sha: fullSha, overlay: z.boolean() })).max(250),
});
/** Production: a push to main (`before` as the push reports it); a preview: the pull request's head. */
export type DetectInput = z.input<typeof productionInput> | z.input<typeof previewInput>;

export interface DetectDeps {
  repo: RepoCache;
  rules: ChangeRules;
  images: Array<{ name: string }>;
  /** The repository's web page, for links in the Web UI. */
  repositoryUrl: string;
  searchAttributes: boolean;
  ci: { timeoutMs: number; pollInitialMs: number; pollMaxMs: number; rerunWindowMs: number };
  reannounceMs: number;
  production: { syncTimeoutMs: number };
  /** Absent: previews are not configured. */
  preview?: { syncTimeoutMs: number; searchDepth: number };
  /** What to report where developers look (GitHub Deployments, the preview comment, chat). */
  report: ReportConfig;
}

/** Parses `git diff --name-status -z` output: renames and copies carry the old path too. */
function parseNameStatus(output: string): ChangedFile[] {
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
function ciSkipped(message: string): { ciSkipped?: string } {
  const marker = ciSkipMarker(message);
  return marker ? { ciSkipped: marker } : {};
}

/** `code 2, k8s 1, ignored 4`: how many files fell into each category. */
function tally(files: Classification['files']): { text: string; counts: Record<string, number> } {
  const counts = Object.fromEntries(
    Object.entries(files).flatMap(([category, paths]) => (paths.length ? [[category, paths.length]] : [])),
  );
  const text = Object.entries(counts)
    .map(([category, n]) => `${category} ${n}`)
    .join(', ');
  return { text: text || 'none', counts };
}

/** The step's one line: what was compared, how the files were classified, the verdict. */
function logVerdict(what: string, from: string, to: string, changes: ChangedFile[], classification: Classification) {
  const { text, counts } = tally(classification.files);
  stepLog.info(
    `${what}: compared ${from === EMPTY_TREE ? 'the empty tree' : short(from)}..${short(to)}, ${count(changes.length, 'file')} changed (${text}): ${classification.path}, ${classification.reason}`,
    {
      from,
      to,
      changedFiles: changes.length,
      files: counts,
      path: classification.path,
      reason: classification.reason,
    },
  );
}

/** Where the walk back starts: at the head, or (GitHub not listing it yet) at the newest commit listed. */
const headAt = (input: { commit: string; commits: Array<{ sha: string }> }) =>
  Math.max(
    0,
    input.commits.findIndex((c) => c.sha === input.commit),
  );

export function detectSteps(deps: DetectDeps) {
  const { repo, ci } = deps;
  const matchers = compileRules(deps.rules);
  const imageNames = deps.images.map((image) => image.name);
  const classify = (changes: ChangedFile[]) => classifyChanges(changes, matchers, imageNames);
  const diff = async (git: SimpleGit, from: string, to: string) =>
    parseNameStatus(await git.raw(['diff', '--name-status', '-z', '-M', from, to]));

  /** What every target's plan holds: the classification, the commit's CI marker, the worker's timing. */
  function plan(
    classification: Classification,
    changes: ChangedFile[],
    message: string,
    own: Pick<DeployPlan, 'reason' | 'syncTimeoutMs' | 'sameCode' | 'headRef'>,
    target: DetectInput['target'],
  ): DeployPlan {
    return {
      path: classification.path,
      images: classification.images,
      ...ciSkipped(message),
      changedFiles: changes.length,
      repositoryUrl: deps.repositoryUrl,
      searchAttributes: deps.searchAttributes,
      ciTimeoutMs: ci.timeoutMs,
      ciPollInitialMs: ci.pollInitialMs,
      ciPollMaxMs: ci.pollMaxMs,
      ciRerunWindowMs: ci.rerunWindowMs,
      reannounceMs: deps.reannounceMs,
      report: reportSettingsFor(deps.report, target),
      ...own,
    };
  }

  /** Production: what the push changed. */
  async function production({ target, commit, before }: z.output<typeof productionInput>): Promise<DeployPlan> {
    const { base, changes, message } = await repo.exclusive(async (git) => {
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
      return { base, changes: await diff(git, base, commit), message: await commitMessage(git, commit) };
    });
    const classification = classify(changes);
    logVerdict('push to production', base, commit, changes, classification);
    return plan(
      classification,
      changes,
      message,
      {
        reason: classification.reason,
        syncTimeoutMs: deps.production.syncTimeoutMs,
      },
      target,
    );
  }

  /** A preview: the PR against its merge base, and which of its commits have the head's code. */
  async function preview(input: z.output<typeof previewInput>): Promise<DeployPlan> {
    const { searchDepth, syncTimeoutMs } = previewsConfigured(deps.preview);
    const { mergeBase, prChanges, differs, message } = await repo.exclusive(async (git) => {
      await repo.fetchBranch(git, input.headRef);
      await repo.ensureCommit(git, input.commit);
      const base = await repo.fetchBranch(git, input.baseRef);
      const mergeBase = (await git.raw(['merge-base', base, input.commit]).catch(() => '')).trim() || EMPTY_TREE;
      // Walk back from the head until a commit's code differs; that is as far as its builds can be reused.
      const differs = new Map<string, boolean>();
      for (const commit of input.commits.slice(headAt(input))) {
        if (commit.overlay || commit.sha === input.commit) continue;
        if (differs.size >= searchDepth) break;
        const other =
          !(await repo.hasCommit(git, commit.sha)) ||
          classify(await diff(git, commit.sha, input.commit)).path === 'code';
        differs.set(commit.sha, other);
        if (other) break;
      }
      return {
        mergeBase,
        prChanges: await diff(git, mergeBase, input.commit),
        differs,
        message: await commitMessage(git, input.commit),
      };
    });
    const classification = classify(prChanges);
    logVerdict(`pull request #${input.target.pr}`, mergeBase, input.commit, prChanges, classification);
    return plan(
      classification,
      prChanges,
      message,
      {
        reason:
          classification.path === 'none'
            ? `the pull request changes nothing deployable (${classification.reason})`
            : `pull request #${input.target.pr}: ${classification.reason}`,
        syncTimeoutMs,
        sameCode: sameCodeCommits(
          input.commits.slice(headAt(input)),
          input.commit,
          (sha) => differs.get(sha) ?? true,
          searchDepth,
        ),
        headRef: input.headRef,
      },
      input.target,
    );
  }

  /** Step `detect`: what the change deploys (production: the push; a preview: the pull request) and with what timing. */
  async function detect(raw: DetectInput): Promise<DeployPlan> {
    const { target } = checkInput(z.object({ target: targetInput }), raw, 'detect');
    return target.kind === 'preview'
      ? preview(checkInput(previewInput, raw, 'detect'))
      : production(checkInput(productionInput, raw, 'detect'));
  }

  return { detect };
}
