import type { TokenCredential } from '@azure/identity';
import { registryHost, registrySteps } from '../activities/registry';
import type { PreflightProblem } from '../config/preflight';
import type { ImageConfig } from '../config/schema';
import { fail, pass, warn, type Outcome } from './check';
import { fixFor, problemOf, problemsFor, warningsFor } from './problems';

/** A tag no build has: reading it proves the registry answers and takes the credentials, nothing more. */
const PROBE_TAG = 'gitops-deployer-doctor-probe';

export interface RegistryCheckInput {
  endpoint: string;
  images: ImageConfig[];
  credential: TokenCredential;
  /** Each image's tag in the production overlay at main; undefined when the overlay could not be read. */
  runningTags?: Map<string, string>;
  preflight: PreflightProblem[];
}

type ImageResult =
  | { image: ImageConfig; tag: string; digest: string }
  | { image: ImageConfig; tag: string; missing: true }
  | { image: ImageConfig; tag?: string; probed: true }
  | { image: ImageConfig; tag?: string; error: unknown };

const REGISTRY_FIXES: Record<string, string> = {
  RegistryCredentials:
    'give the worker an Azure identity with the AcrPull role on the registry (workload identity on AKS)',
  Unauthorized: 'assign the AcrPull role on the registry to the Azure identity the worker runs as',
  RegistryAuthUnsupported:
    'point registry.endpoint at the Azure Container Registry, or allow anonymous pulls on this registry',
};

/**
 * Each image repository read with the worker's client and credentials (ACR's token exchange
 * included): at the tag production runs when the overlay could be read, else at a tag no build
 * has, which still proves the registry answers and accepts the credentials.
 */
export async function checkRegistry(input: RegistryCheckInput): Promise<Outcome> {
  const { endpoint, images, credential, runningTags } = input;
  const refused = problemsFor(input.preflight, ['registry.endpoint']);
  if (refused) return refused;
  const host = registryHost(endpoint);
  const results = await Promise.all(
    images.map(async (image): Promise<ImageResult> => {
      const steps = registrySteps({ endpoint, images: [image], credential });
      const tag = runningTags?.get(image.name);
      try {
        if (tag === undefined) {
          await steps.imagesExist(PROBE_TAG);
          return { image, probed: true };
        }
        const [validated] = await steps.validateImages({ tag });
        return { image, tag, digest: validated!.digest };
      } catch (err) {
        if ((err as { type?: string }).type === 'ImageNotFound') return { image, tag: tag!, missing: true };
        return { image, tag, error: err };
      }
    }),
  );

  const broken = results.find((r): r is Extract<ImageResult, { error: unknown }> => 'error' in r);
  if (broken)
    return fail(
      problemOf(broken.error),
      fixFor(broken.error, 'registry.endpoint', REGISTRY_FIXES, 'check registry.endpoint and images[].repository'),
    );
  const missing = results.filter((r): r is Extract<ImageResult, { missing: true }> => 'missing' in r);
  if (missing.length) {
    const names = missing.map((r) => `${host}/${r.image.repository}:${r.tag}`);
    return fail(
      `the registry has no ${names.join(', ')}: the tag production runs`,
      `check images[].repository (each image's repository in the registry); if it is right, CI never pushed the tag or retention removed it`,
      missing.map((r) => `images[${images.indexOf(r.image)}]: ${r.image.name} → repository ${r.image.repository}`),
    );
  }
  const details = results.map((r) =>
    'digest' in r
      ? `${r.image.name}: ${host}/${r.image.repository}:${r.tag} ${r.digest}`
      : `${r.image.name}: ${host}/${r.image.repository} answers; no tag to read`,
  );
  const azure = warningsFor(input.preflight, ['AZURE_TENANT_ID']);
  if (azure.length) return warn(azure[0]!.problem, azure[0]!.fix, details);
  const unconfirmed = results.filter((r) => 'probed' in r).length;
  if (unconfirmed)
    return warn(
      `${host} answers and accepts the credentials; ${unconfirmed} of ${images.length} repositories not confirmed (${runningTags ? 'the overlay names no tag for them' : 'the overlay could not be read for the tag production runs'})`,
      'fix the overlay check below; doctor then reads every image at the tag production runs',
      details,
    );
  const tags = [...new Set(results.map((r) => r.tag))];
  return pass(`${host}: every image readable at ${tags.join(', ')} (the tag production runs)`, details);
}
