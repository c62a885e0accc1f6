import { join } from 'node:path';
import { RepoCache } from '../../src/activities/git';
import { parseConfig } from '../../src/config/load';
import type { DeployConfig } from '../../src/config/schema';
import type { Origin } from '../../harness/origin';

/** A config and a git cache for step tests against a local origin (file://): no stack, no services. */
export function localRepo(origin: Origin, dir: string): { config: DeployConfig; repo: RepoCache } {
  const config = parseConfig({
    repository: { owner: 'o', name: 'r', cloneUrl: origin.url },
    ci: { workflow: 'ci.yml' },
    registry: { endpoint: 'https://acr.test' },
    images: [{ name: 'yt-summarizer-api', repository: 'yt-summarizer-api' }],
    argocd: { server: 'https://argocd.test', application: 'app' },
  });
  const repo = new RepoCache({
    cloneUrl: origin.url,
    cacheDir: join(dir, 'cache'),
    branch: 'main',
    author: { name: 'd', email: 'd@example.com' },
  });
  return { config, repo };
}
