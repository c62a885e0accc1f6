import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { configSchema, type DeployConfig } from './schema';

/** A configuration problem; `problems` names every bad field, one per line. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const SECRET_KEY = /(token|secret|password|passwd|credential|apikey|api_key|private_?key)$/i;

/** Secrets come from the environment only: a config file that holds one is refused outright. */
function findSecretKeys(value: unknown, path: string[] = []): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => findSecretKeys(item, [...path, String(i)]));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, child]) =>
      SECRET_KEY.test(key)
        ? [`${[...path, key].join('.')}: secrets are read from the environment (GITHUB_TOKEN, ARGOCD_TOKEN, Azure credentials), never from the config file`]
        : findSecretKeys(child, [...path, key]),
    );
  }
  return [];
}

/** Validates an already-parsed configuration object. */
export function parseConfig(raw: unknown, source = 'configuration'): DeployConfig {
  const secrets = findSecretKeys(raw);
  if (secrets.length) throw new ConfigError(source, secrets);
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`),
    );
  }
  return result.data;
}

/** Parses YAML text; syntax errors are reported with their line. */
export function parseConfigText(text: string, source = 'configuration'): DeployConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new ConfigError(source, doc.errors.map((e) => e.message));
  return parseConfig(doc.toJS(), source);
}

/** The config file path: `--config`, else DEPLOY_CONFIG, else ./deploy.config.yaml. */
export function configPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.DEPLOY_CONFIG ?? 'deploy.config.yaml');
}

export function loadConfig(path: string): DeployConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  return parseConfigText(text, path);
}
