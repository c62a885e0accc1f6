import { parseConfig } from '../../src/config/load';
import type { DeployConfig } from '../../src/config/schema';

/**
 * The config of a workflow test: repository `o/<name>` on a task queue of its own (its environment
 * named after it, so tests never share one), no search attributes. `extra` adds sections or
 * settings to them: `{ environment: { reannounceAfter: '30s' } }` keeps the environment's name.
 */
export function workflowTestConfig(name: string, taskQueue: string, extra: Record<string, unknown> = {}): DeployConfig {
  const base: Record<string, Record<string, unknown>> = {
    repository: { owner: 'o', name },
    ci: { workflow: 'ci.yml' },
    registry: { endpoint: 'https://acr.test' },
    images: [{ name: 'api', repository: 'api' }] as unknown as Record<string, unknown>,
    argocd: { server: 'https://argocd.test', application: 'app' },
    environment: { name: taskQueue },
    temporal: { taskQueue, searchAttributes: false },
  };
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const section = base[key];
    const plain = value !== null && typeof value === 'object' && !Array.isArray(value);
    merged[key] = section && !Array.isArray(section) && plain ? { ...section, ...value } : value;
  }
  return parseConfig(merged);
}
