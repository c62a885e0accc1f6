import { ContainerRegistryContentClient, type ContainerRegistryContentClientOptions } from '@azure/container-registry';
import type { TokenCredential } from '@azure/identity';
import { z } from 'zod';
import type { ValidatedImage } from '../contract/deploy';
import { permanent, requestFailure } from './failures';
import { fault, REQUEST_TIMEOUT_MS } from './faults';
import { checkInput, fullSha, imageTag } from './input';
import { count, short, stepLog } from './log';

const validateInput = z.object({ tag: imageTag });
const findInput = z.object({ candidates: z.array(z.object({ commit: fullSha, tag: imageTag })).max(250) });
/** Registry lookups in flight at once while searching for a build. */
const PROBES = 4;

export interface RegistryDeps {
  /** https://<registry host> */
  endpoint: string;
  /** Each image's kustomize name and its repository inside the registry. */
  images: Array<{ name: string; repository: string }>;
  credential: TokenCredential;
}

class MissingImage extends Error {}

/** One step of the SDK's HTTP pipeline (@azure/core-rest-pipeline's PipelinePolicy). */
type PipelinePolicy = NonNullable<ContainerRegistryContentClientOptions['additionalPolicies']>[number]['policy'];

export function registryHost(endpoint: string): string {
  return new URL(endpoint).host;
}

/**
 * Steps `validate-images` and `search-images`: every configured image must exist at the tag, read
 * through the OCI distribution API (ACR with Azure credentials in production, any OCI registry in tests).
 */
export function registrySteps({ endpoint, images, credential }: RegistryDeps) {
  const host = registryHost(endpoint);
  const options: ContainerRegistryContentClientOptions = {
    // Temporal's retry policy is the one that retries (with the step's backoff, visible in history);
    // the SDK's own 3 retries with up to 64 s between them would hide inside one attempt.
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [
      { policy: requestDeadline(REQUEST_TIMEOUT_MS), position: 'perRetry' },
      { policy: refuseForeignChallenge(host), position: 'perRetry' },
    ],
  };
  const clients = new Map(
    images.map((image) => [
      image.name,
      new ContainerRegistryContentClient(endpoint, image.repository, credential, options),
    ]),
  );

  async function validateImages(raw: { tag: string }): Promise<ValidatedImage[]> {
    const { tag } = checkInput(validateInput, raw, 'validate-images');
    const results = await Promise.allSettled(images.map((image) => validate(image.name, image.repository, tag)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    // Name every missing image at once, so one look at the failure tells the whole story.
    const missing = failed.filter((err) => err instanceof MissingImage).map((err) => err.message);
    if (missing.length) {
      throw permanent(
        `image not found: ${missing.join(', ')}. CI pushes sha-<commit> for every code change: check that its build pushed these images, or deploy a commit whose images exist.`,
        'ImageNotFound',
      );
    }
    if (failed.length) throw failed[0];
    const validated = results.map((r) => (r as PromiseFulfilledResult<ValidatedImage>).value);
    const digests = validated.map(
      (image) => `${image.name} ${image.digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]+$/, '$1…')}`,
    );
    stepLog.info(`validated ${count(validated.length, 'image')} at ${tag} in ${host}: ${digests.join(', ')}`, {
      tag,
      images: validated,
    });
    return validated;
  }

  async function validate(name: string, repository: string, tag: string): Promise<ValidatedImage> {
    const reference = `${host}/${repository}:${tag}`;
    // The whole read, the manifest's streamed body included; the token service's requests, which
    // do not carry this signal, have their own deadline (requestDeadline).
    const deadline = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    try {
      const manifest = await clients.get(name)!.getManifest(tag, { abortSignal: deadline });
      return { name, reference, digest: manifest.digest };
    } catch (err) {
      // A 404 for the manifest is an answer (no such image); a 404 elsewhere (the token exchange) is a fault.
      if (isMissingManifest(err)) throw new MissingImage(reference);
      // An answer that came as the deadline passed is still the answer (a 401 stays permanent).
      const answered = typeof (err as { statusCode?: unknown }).statusCode === 'number';
      if (deadline.aborted && !answered)
        throw fault({ service: 'registry', host, subject: reference, timedOutAfterMs: REQUEST_TIMEOUT_MS });
      throw requestFailure('registry', host, err, { subject: reference });
    }
  }

  /** Whether every image exists at the tag (for rollback targets); other errors propagate. */
  async function imagesExist(tag: string): Promise<boolean> {
    const results = await Promise.allSettled(images.map((image) => validate(image.name, image.repository, tag)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (failed.some((err) => !(err instanceof MissingImage)))
      throw failed.find((err) => !(err instanceof MissingImage));
    return failed.length === 0;
  }

  /** Step `search-images`: the first candidate (newest first) whose images all exist, or null. */
  async function findImages(raw: z.input<typeof findInput>): Promise<{ commit: string; tag: string } | null> {
    const { candidates } = checkInput(findInput, raw, 'search-images');
    for (let i = 0; i < candidates.length; i += PROBES) {
      const batch = candidates.slice(i, i + PROBES);
      const exist = await Promise.all(batch.map((c) => imagesExist(c.tag)));
      const hit = batch.find((_, index) => exist[index]);
      if (hit) {
        stepLog.info(
          `searched builds: ${hit.tag} (${short(hit.commit)}) has every image, candidate ${candidates.indexOf(hit) + 1} of ${candidates.length}`,
          {
            tag: hit.tag,
            commit: hit.commit,
            candidates: candidates.length,
          },
        );
        return hit;
      }
    }
    stepLog.info(`searched builds: none of ${candidates.length} candidates has every image`, {
      candidates: candidates.length,
    });
    return null;
  }

  return { validateImages, findImages, imagesExist };
}

function isMissingManifest(err: unknown): boolean {
  const { statusCode, request } = err as { statusCode?: number; request?: { url?: string } };
  return statusCode === 404 && /\/manifests\/[^/?]+(\?|$)/.test(request?.url ?? '');
}

/**
 * A deadline for the requests that do not carry the step's signal: the SDK sends the ACR token
 * exchange without it. (A manifest read has the signal, whose expiry validate() reports.)
 */
function requestDeadline(timeoutMs: number): PipelinePolicy {
  return {
    name: 'gitops-deployer-request-deadline',
    sendRequest(request, next) {
      if (!request.abortSignal && !request.timeout) request.timeout = timeoutMs;
      return next(request);
    },
  };
}

/**
 * A 401 challenge for anything but a Bearer token (Basic: a user name and password) is refused here,
 * with the table's advice: the SDK's ACR challenge handler would fail on it with "Failed to retrieve
 * 'service' from challenge", an error that names neither the registry nor the cause.
 */
function refuseForeignChallenge(host: string): PipelinePolicy {
  return {
    name: 'gitops-deployer-refuse-foreign-challenge',
    async sendRequest(request, next) {
      const response = await next(request);
      const challenge = response.headers.get('www-authenticate');
      if (response.status === 401 && challenge && !/^\s*bearer\b/i.test(challenge)) {
        throw fault({
          service: 'registry',
          host,
          status: 401,
          header: (name) => response.headers.get(name),
          path: new URL(request.url).pathname,
        });
      }
      return response;
    },
  };
}
