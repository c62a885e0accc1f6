import type { Octokit } from '@octokit/rest';
import { permanent, requestFailure } from '../activities/failures';
import type { ImageConfig } from '../config/schema';
import { OverlayError, readOverlayImages, type OverlayImage } from '../plan/overlay';
import { productionTagProblem } from '../plan/tags';
import { fail, pass, warn, type Outcome } from './check';
import type { OverlayAtMain } from './context';
import { fixFor, problemOf } from './problems';

export interface RepoFiles {
  octokit: Octokit;
  owner: string;
  repo: string;
  apiHost: string;
}

/** A file at a commit through GitHub's contents API; a missing one is a permanent failure naming the setting. */
async function readFile({ octokit, owner, repo, apiHost }: RepoFiles, path: string, commit: string, setting: string) {
  let data: Awaited<ReturnType<Octokit['rest']['repos']['getContent']>>['data'];
  try {
    ({ data } = await octokit.rest.repos.getContent({ owner, repo, path, ref: commit }));
  } catch (err) {
    throw requestFailure('GitHub', apiHost, err, {
      subject: `${path} of ${owner}/${repo}`,
      notFound: `${path} does not exist at ${commit.slice(0, 7)}; check ${setting}`,
    });
  }
  if (Array.isArray(data) || data.type !== 'file')
    throw permanent(`${path} is a directory, not a file; check ${setting}`);
  if (data.encoding !== 'base64') throw permanent(`${path} is too large to be a kustomization (${data.size} bytes)`);
  return Buffer.from(data.content, 'base64').toString('utf8');
}

/** The production overlay at the head of main, as the deploy steps read it (only its text, through the API). */
export async function readOverlayAtMain(files: RepoFiles, mainBranch: string, path: string): Promise<OverlayAtMain> {
  const { octokit, owner, repo, apiHost } = files;
  let commit: string;
  try {
    commit = (await octokit.rest.git.getRef({ owner, repo, ref: `heads/${mainBranch}` })).data.object.sha;
  } catch (err) {
    throw requestFailure('GitHub', apiHost, err, {
      subject: `branch ${mainBranch} of ${owner}/${repo}`,
      notFound: `branch ${mainBranch} does not exist in ${owner}/${repo}; check repository.mainBranch`,
    });
  }
  return { commit, text: await readFile(files, path, commit, 'overlay.path') };
}

/** The overlay's image entries, or none when it cannot be parsed (the overlay check says why). */
export function overlayTags(text: string): Map<string, string> {
  try {
    return new Map(readOverlayImages(text).flatMap((i) => (i.newTag ? [[i.name, i.newTag] as const] : [])));
  } catch (err) {
    if (err instanceof OverlayError) return new Map();
    throw err;
  }
}

export interface OverlayFacts {
  path: string;
  mainBranch: string;
  commit: string;
  images: ImageConfig[];
  registryHost: string;
}

const entryFor = (image: ImageConfig, host: string) =>
  `{ name: ${image.name}, newName: ${host}/${image.repository}, newTag: sha-<commit> }`;

/** What the deploy steps will find in the production overlay. Pure. */
export function overlayOutcome(text: string, facts: OverlayFacts): Outcome {
  const { path, mainBranch, commit, images, registryHost: host } = facts;
  const where = `${path} at ${mainBranch} (${commit.slice(0, 7)})`;
  let entries: OverlayImage[];
  try {
    entries = readOverlayImages(text);
  } catch (err) {
    if (!(err instanceof OverlayError)) throw err;
    return fail(
      `${where}: ${err.message}`,
      `fix the file on ${mainBranch}; the deployer only ever changes image tags in it`,
    );
  }
  const missing = images.filter((image) => !entries.some((e) => e.name === image.name));
  if (missing.length)
    return fail(
      `${where} has no images entry named ${missing.map((i) => `"${i.name}"`).join(', ')}`,
      `add one per image to its images: list, e.g. ${entryFor(missing[0]!, host)}`,
    );
  const named = images.map((image) => ({ image, entry: entries.find((e) => e.name === image.name)! }));
  for (const { image, entry } of named) {
    const problem = productionTagProblem(image.name, entry.newTag);
    if (problem) {
      const [said, fix = 'set newTag to a sha-<commit> tag that exists in the registry'] = problem.split(' Fix: ');
      return fail(`${where}: ${said}`, fix);
    }
  }
  const tags = [...new Set(named.map(({ entry }) => entry.newTag))];
  if (tags.length > 1)
    return fail(
      `${where}: the images run different tags (${tags.join(', ')})`,
      'CI builds every image at one tag: set every newTag to the same sha-<commit>',
    );
  const renamed = named.filter(({ image, entry }) => entry.newName !== `${host}/${image.repository}`);
  const summary = `${where}: ${images.length} images at ${tags[0]}`;
  if (renamed.length)
    return warn(
      `${summary}; the next deploy rewrites newName of ${renamed.map(({ image }) => image.name).join(', ')}`,
      'nothing to do if images[].repository and registry.endpoint are right; otherwise fix them first',
      renamed.map(
        ({ image, entry }) => `${image.name}: ${entry.newName ?? '(no newName)'} → ${host}/${image.repository}`,
      ),
    );
  return pass(summary);
}

/** The preview overlay on main: pull request branches start from it, and each preview edits it. Pure. */
export function previewOverlayProblem(
  text: string | undefined,
  path: string,
  images: ImageConfig[],
): string | undefined {
  if (text === undefined) return `preview overlay ${path} is not on main: branches made from main have none to edit`;
  try {
    const names = readOverlayImages(text).map((e) => e.name);
    const missing = images.filter((i) => !names.includes(i.name)).map((i) => i.name);
    return missing.length ? `preview overlay ${path} has no images entry named ${missing.join(', ')}` : undefined;
  } catch (err) {
    if (err instanceof OverlayError) return `preview overlay ${path}: ${err.message}`;
    throw err;
  }
}

export interface OverlayCheckInput extends RepoFiles {
  facts: Omit<OverlayFacts, 'commit'>;
  previewPath?: string;
  overlay: () => Promise<OverlayAtMain>;
}

/** The overlay file at main's head names every configured image at a tag the deploy steps accept. */
export async function checkOverlay(input: OverlayCheckInput): Promise<Outcome> {
  const { facts, previewPath } = input;
  let read: OverlayAtMain;
  try {
    read = await input.overlay();
  } catch (err) {
    const fix = `check overlay.path and repository.mainBranch: the file must exist on ${facts.mainBranch}`;
    return fail(problemOf(err), fixFor(err, 'github.apiUrl', { NotFound: fix }, fix));
  }
  const outcome = overlayOutcome(read.text, { ...facts, commit: read.commit });
  if (!previewPath || outcome.status === 'fail') return outcome;
  let previewText: string | undefined;
  try {
    previewText = await readFile(input, previewPath, read.commit, 'preview.overlayPath');
  } catch (err) {
    if ((err as { type?: string }).type !== 'NotFound') return fail(problemOf(err), 'check preview.overlayPath');
  }
  const problem = previewOverlayProblem(previewText, previewPath, facts.images);
  if (!problem) return outcome;
  return warn(
    outcome.status === 'pass' ? `${outcome.summary}; but ${problem}` : outcome.summary,
    `previews fail until ${previewPath} on ${facts.mainBranch} lists every image${outcome.fix ? `; ${outcome.fix}` : ''}`,
    [...outcome.details, ...(outcome.status === 'warn' ? [problem] : [])],
  );
}
