import { ContainerRegistryContentClient } from '@azure/container-registry';
import type { TokenCredential } from '@azure/identity';
import { z } from 'zod';
import type { DeployConfig } from '../config/schema';
import type { ValidatedImage } from '../workflows/types';
import { httpFailure, permanent } from './failures';
import { checkInput, imageTag } from './input';

const validateInput = z.object({ tag: imageTag });

class MissingImage extends Error {}

export function registryHost(endpoint: string): string {
  return new URL(endpoint).host;
}

/**
 * Step `validate-images`: every configured image must exist at the tag, read through the OCI
 * distribution API (ACR with Azure credentials in production, any OCI registry in tests).
 */
export function registrySteps(config: DeployConfig, credential: TokenCredential) {
  const host = registryHost(config.registry.endpoint);
  const clients = new Map(config.images.map((image) => [image.name, new ContainerRegistryContentClient(config.registry.endpoint, image.repository, credential)]));

  async function validateImages(raw: { tag: string }): Promise<ValidatedImage[]> {
    const { tag } = checkInput(validateInput, raw, 'validate-images');
    const results = await Promise.allSettled(config.images.map((image) => validate(image.name, image.repository, tag)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    // Name every missing image at once, so one look at the failure tells the whole story.
    const missing = failed.filter((err) => err instanceof MissingImage).map((err) => err.message);
    if (missing.length) {
      throw permanent(`image not found: ${missing.join(', ')}. CI pushes sha-<commit> for every code change: check that its build pushed these images, or deploy a commit whose images exist.`, 'ImageNotFound');
    }
    if (failed.length) throw failed[0];
    return results.map((r) => (r as PromiseFulfilledResult<ValidatedImage>).value);
  }

  async function validate(name: string, repository: string, tag: string): Promise<ValidatedImage> {
    const reference = `${host}/${repository}:${tag}`;
    try {
      const manifest = await clients.get(name)!.getManifest(tag);
      return { name, reference, digest: manifest.digest };
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404) throw new MissingImage(reference);
      if (typeof status !== 'number') throw err;
      const headers = (err as { response?: { headers?: { get(name: string): string | undefined } } }).response?.headers;
      throw httpFailure(`registry ${host}`, status, `${reference}: ${(err as Error).message}`, headers?.get('retry-after'));
    }
  }

  /** Whether every image exists at the tag (for rollback targets); other errors propagate. */
  async function imagesExist(tag: string): Promise<boolean> {
    const results = await Promise.allSettled(config.images.map((image) => validate(image.name, image.repository, tag)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (failed.some((err) => !(err instanceof MissingImage))) throw failed.find((err) => !(err instanceof MissingImage));
    return failed.length === 0;
  }

  return { validateImages, imagesExist };
}
