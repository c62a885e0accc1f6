import { ContainerRegistryContentClient } from '@azure/container-registry';
import type { TokenCredential } from '@azure/identity';
import { z } from 'zod';
import type { DeployConfig } from '../config/schema';
import type { ValidatedImage } from '../workflows/types';
import { httpFailure, permanent } from './failures';
import { checkInput, imageTag } from './input';

const validateInput = z.object({ tag: imageTag });

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
    return Promise.all(
      config.images.map(async (image) => {
        const reference = `${host}/${image.repository}:${tag}`;
        try {
          const manifest = await clients.get(image.name)!.getManifest(tag);
          return { name: image.name, reference, digest: manifest.digest };
        } catch (err) {
          const status = (err as { statusCode?: number }).statusCode;
          if (status === 404) {
            throw permanent(`image not found: ${reference}. CI pushes sha-<commit> for every code change: check that its build pushed this image, or deploy a commit whose images exist.`, 'ImageNotFound');
          }
          if (typeof status === 'number') {
            const headers = (err as { response?: { headers?: { get(name: string): string | undefined } } }).response?.headers;
            throw httpFailure(`registry ${host}`, status, `${reference}: ${(err as Error).message}`, headers?.get('retry-after'));
          }
          throw err;
        }
      }),
    );
  }

  return { validateImages };
}
