import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { plainWords } from './plain-words';
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

/** Secrets come from the environment only: a config file that holds one is refused, pointing there. */
function findSecretKeys(value: unknown, path: string[] = []): Array<{ path: string; problem: string }> {
  if (Array.isArray(value)) return value.flatMap((item, i) => findSecretKeys(item, [...path, String(i)]));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, child]) => {
      const at = [...path, key].join('.');
      return SECRET_KEY.test(key)
        ? [
            {
              path: at,
              problem: `${at}: secrets are read from the environment (GITHUB_TOKEN, ARGOCD_TOKEN, Azure credentials), never from the config file`,
            },
          ]
        : findSecretKeys(child, [...path, key]);
    });
  }
  return [];
}

/** One line per problem, each starting with its field path; an unknown field is named itself. */
function describeIssues(issues: z.core.$ZodIssue[], skip: Set<string>): string[] {
  return issues.flatMap((issue) => {
    const at = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys
        .map((key) => (at ? `${at}.${key}` : key))
        .filter((path) => !skip.has(path))
        .map((path) => `${path}: ${issue.message}`);
    }
    return [`${at || '(root)'}: ${issue.message}`];
  });
}

/** Validates an already-parsed configuration object; every problem is reported at once. */
export function parseConfig(raw: unknown, source = 'configuration'): DeployConfig {
  const secrets = findSecretKeys(raw);
  const result = configSchema.safeParse(raw ?? {}, { error: plainWords });
  // A secret key is also an unknown field: it is named once, with the reason that matters.
  const problems = [
    ...secrets.map((s) => s.problem),
    ...(result.success ? [] : describeIssues(result.error.issues, new Set(secrets.map((s) => s.path)))),
  ];
  if (problems.length || !result.success) throw new ConfigError(source, problems);
  return result.data;
}

/** Parses YAML text; syntax errors are reported with their line. */
export function parseConfigText(text: string, source = 'configuration'): DeployConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length)
    throw new ConfigError(
      source,
      doc.errors.map((e) => e.message),
    );
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
