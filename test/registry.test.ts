import { ContainerRegistryContentClient } from '@azure/container-registry';
import { DefaultAzureCredential } from '@azure/identity';
import { startRegistry, type TestRegistry } from '../harness/registry';

let registry: TestRegistry;

beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
});

test('an image pushed over the OCI API is readable by the Azure content client, until deleted', async () => {
  const repo = 'team/web';
  const digest = await registry.pushImage(repo, 'v1');
  expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(await registry.hasImage(repo, 'v1')).toBe(true);

  // The registry never sends a 401 challenge, so the credential is never asked for a token.
  const client = new ContainerRegistryContentClient(registry.endpoint, repo, new DefaultAzureCredential());
  const manifest = await client.getManifest('v1');
  expect(manifest.digest).toBe(digest);
  expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
  expect((await client.getManifest(digest)).digest).toBe(digest);

  // Each push is unique, so a re-push under another tag gets another digest.
  expect(await registry.pushImage(repo, 'v2')).not.toBe(digest);

  await registry.deleteImage(repo, 'v1');
  expect(await registry.hasImage(repo, 'v1')).toBe(false);
  expect(await registry.hasImage(repo, 'v2')).toBe(true);
  const err = await client.getManifest('v1').then(
    () => undefined,
    (e: unknown) => e,
  );
  // RestError comes from a transitive package (@azure/core-rest-pipeline), so match by shape.
  expect(err).toMatchObject({ name: 'RestError', statusCode: 404 });
});
