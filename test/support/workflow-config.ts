import { parseConfig } from '../../src/config/load';
import type { DeployConfig } from '../../src/config/schema';

/**
 * The config of a workflow test: repository `o/<name>` on a task queue of its own (its environment
 * named after it, so tests never share one), no search attributes; `extra` adds sections.
 */
export function workflowTestConfig(name: string, taskQueue: string, extra: Record<string, unknown> = {}): DeployConfig {
  return parseConfig({
    repository: { owner: 'o', name },
    ci: { workflow: 'ci.yml' },
    registry: { endpoint: 'https://acr.test' },
    images: [{ name: 'api', repository: 'api' }],
    argocd: { server: 'https://argocd.test', application: 'app' },
    environment: { name: taskQueue },
    temporal: { taskQueue, searchAttributes: false },
    ...extra,
  });
}
