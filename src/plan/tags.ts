/** Tag rules from the spec: production runs `sha-<7 hex>`, previews `pr-<number>-<7 hex>`, never `latest`. */

const COMMIT = /^[0-9a-f]{7,40}$/i;
export const SHA_TAG = /^sha-[0-9a-f]{7}$/;

export function shortSha(commit: string): string {
  if (!COMMIT.test(commit)) throw new Error(`not a commit id: ${JSON.stringify(commit)}`);
  return commit.slice(0, 7).toLowerCase();
}

/** The tag CI gives the images it builds for a merge commit. */
export function shaTag(commit: string): string {
  return `sha-${shortSha(commit)}`;
}

export function prTag(prNumber: number, commit: string): string {
  if (!Number.isInteger(prNumber) || prNumber <= 0) throw new Error(`not a pull request number: ${prNumber}`);
  return `pr-${prNumber}-${shortSha(commit)}`;
}

/**
 * Why a tag read from the production overlay cannot be redeployed, or undefined when it can.
 * The wording follows the spec's troubleshooting section so operators know the fix.
 */
export function productionTagProblem(image: string, tag: string | undefined): string | undefined {
  if (tag === undefined || tag === '') {
    return `Production overlay has no newTag for ${image}. Fix: set newTag to a specific SHA tag from the registry (sha-<7-char commit>).`;
  }
  if (tag === 'latest') {
    return `Production using 'latest' tag for ${image}. Cause: manual edit to the kustomization outside the deployer. Fix: update newTag to a specific SHA tag from the registry (sha-<7-char commit>); never use 'latest' in production.`;
  }
  if (!SHA_TAG.test(tag)) {
    return `Production tag "${tag}" of ${image} is not a SHA tag. Fix: update newTag to sha-<7-char commit> of an image in the registry; the deployer only redeploys traceable SHA tags.`;
  }
  return undefined;
}
