import { ConfigError } from './load';
import { notifyUrlVariable, type DeployConfig } from './schema';

// The cheap checks before a process starts: pure functions of the loaded configuration and the
// environment, no network. They catch what otherwise shows at the first real deploy (a missing
// token, a host copied from the example). `deployctl doctor` checks the rest against the services.

/** Who is starting: the worker, the webhook relay, or `npm start`'s whole local stack (both). */
export type PreflightRole = 'worker' | 'relay' | 'stack';

export interface PreflightProblem {
  /** An error stops the start (exit 2); a warning is printed and the start goes on. */
  severity: 'error' | 'warning';
  /** The setting at fault: an environment variable (`GITHUB_TOKEN`) or a config field (`argocd.server`). */
  subject: string;
  problem: string;
  /** What to do, in one or two lines. */
  fix: string;
}

/** Set by `npm start` once it printed these results, so the program it launches does not print them again. */
export const PREFLIGHT_REPORTED_ENV = 'GITOPS_DEPLOYER_PREFLIGHT_REPORTED';

const NEEDS_GITHUB = ['worker', 'stack'];
const NEEDS_WEBHOOK_SECRET = ['relay', 'stack'];
/** An Argo CD token that expires within this long is worth a warning at start. */
const EXPIRY_WARNING_MS = 7 * 24 * 3_600_000;

/** Every problem found, errors and warnings, in a stable order: secrets, then config fields, then Azure. */
export function preflight(
  config: DeployConfig,
  env: NodeJS.ProcessEnv,
  role: PreflightRole,
  now = Date.now(),
): PreflightProblem[] {
  const talksToServices = NEEDS_GITHUB.includes(role);
  return [
    ...secretProblems(config, env, role),
    ...(talksToServices ? notificationUrlProblems(config, env) : []),
    ...(talksToServices ? argoTokenExpiry(config, env.ARGOCD_TOKEN, now) : []),
    ...temporalTlsProblems(env),
    ...placeholderValues(config),
    ...(talksToServices ? placeholderHosts(config) : []),
    ...(talksToServices ? clearTextHosts(config) : []),
    ...(talksToServices ? azureCredentialWarnings(config, env) : []),
  ];
}

interface SecretSpec {
  name: string;
  fix: (config: DeployConfig) => string;
}

const GITHUB_TOKEN: SecretSpec = {
  name: 'GITHUB_TOKEN',
  fix: ({ repository: { owner, name } }) =>
    `export a GitHub token with contents: write and actions: read on ${owner}/${name} (pull requests: read for previews): a GitHub App installation token or a fine-grained personal access token`,
};
const ARGOCD_TOKEN: SecretSpec = {
  name: 'ARGOCD_TOKEN',
  fix: ({ argocd }) =>
    `export an Argo CD API token of an account that may get application ${argocd.application} (argocd account generate-token --account <account>)`,
};
const GITHUB_WEBHOOK_SECRET: SecretSpec = {
  name: 'GITHUB_WEBHOOK_SECRET',
  fix: () => 'export the secret configured on the GitHub webhook (repository Settings → Webhooks)',
};

function secretsFor(role: PreflightRole): SecretSpec[] {
  return [
    ...(NEEDS_GITHUB.includes(role) ? [GITHUB_TOKEN, ARGOCD_TOKEN] : []),
    ...(NEEDS_WEBHOOK_SECRET.includes(role) ? [GITHUB_WEBHOOK_SECRET] : []),
  ];
}

/** Present, not blank, and without the newline a Secret made with `echo` carries (the server would refuse it). */
function secretProblems(config: DeployConfig, env: NodeJS.ProcessEnv, role: PreflightRole): PreflightProblem[] {
  return secretsFor(role).flatMap(({ name, fix }): PreflightProblem[] => {
    const value = env[name];
    if (value === undefined || value === '')
      return [{ severity: 'error', subject: name, problem: `${name} is not set`, fix: fix(config) }];
    if (value.trim() === '')
      return [{ severity: 'error', subject: name, problem: `${name} is blank (only whitespace)`, fix: fix(config) }];
    if (value !== value.trim())
      return [
        {
          severity: 'error',
          subject: name,
          problem: `${name} starts or ends with whitespace (${/\n$/.test(value) ? 'a trailing newline' : 'spaces'}), which the server would refuse`,
          fix: `set it without: a Secret made with \`echo\` keeps the newline; use \`printf '%s'\` or \`kubectl create secret generic … --from-literal\``,
        },
      ];
    return [];
  });
}

/**
 * Each notification sink's URL, from NOTIFY_<NAME>_URL: set, and an http(s) URL. The URL is the
 * sink's secret (Slack's path is its token): a problem names the variable, never the value.
 */
function notificationUrlProblems(config: DeployConfig, env: NodeJS.ProcessEnv): PreflightProblem[] {
  return config.notifications.flatMap(({ name, format }): PreflightProblem[] => {
    const variable = notifyUrlVariable(name);
    const value = env[variable]?.trim();
    const fix = `export the webhook URL of sink "${name}" (${format === 'slack' ? "a Slack incoming webhook's URL" : 'the CloudEvents receiver'}, https://…) as ${variable}; it is a secret, so it never goes in the config file`;
    const problem = (text: string, severity: PreflightProblem['severity'] = 'error', remedy = fix) => [
      { severity, subject: variable, problem: `${variable} ${text} (notification sink "${name}")`, fix: remedy },
    ];
    if (!value) return problem('is not set');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return problem('is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return problem('is not an http:// or https:// URL');
    if (url.username || url.password) return problem('carries a user name or password, which webhooks do not take');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (url.protocol === 'http:' && !isLoopback(host))
      return problem(
        `is plain http:// to ${host}: the URL, the sink's secret, travels in clear text`,
        'warning',
        `use the sink's https:// URL in ${variable}`,
      );
    return [];
  });
}

/** Argo CD API tokens are JWTs; their `exp` claim (seconds) says when they stop working. Nothing of the token is shown. */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (token.split('.').length !== 3 || !payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) && exp > 0 ? exp * 1_000 : undefined;
  } catch {
    return undefined; // not a JWT after all: the server decides
  }
}

function argoTokenExpiry(config: DeployConfig, token: string | undefined, now: number): PreflightProblem[] {
  const expiry = token ? jwtExpiry(token.trim()) : undefined;
  if (expiry === undefined || expiry - now > EXPIRY_WARNING_MS) return [];
  const at = new Date(expiry).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const fix = `generate a new one: argocd account generate-token --account <account> (an account that may get ${config.argocd.application}), and update ARGOCD_TOKEN`;
  return expiry <= now
    ? [{ severity: 'error', subject: 'ARGOCD_TOKEN', problem: `ARGOCD_TOKEN expired at ${at}`, fix }]
    : [{ severity: 'warning', subject: 'ARGOCD_TOKEN', problem: `ARGOCD_TOKEN expires at ${at}`, fix }];
}

function temporalTlsProblems(env: NodeJS.ProcessEnv): PreflightProblem[] {
  if (Boolean(env.TEMPORAL_TLS_CERT) === Boolean(env.TEMPORAL_TLS_KEY)) return [];
  const missing = env.TEMPORAL_TLS_CERT ? 'TEMPORAL_TLS_KEY' : 'TEMPORAL_TLS_CERT';
  return [
    {
      severity: 'error',
      subject: missing,
      problem: `${missing} is not set, but ${missing === 'TEMPORAL_TLS_KEY' ? 'TEMPORAL_TLS_CERT' : 'TEMPORAL_TLS_KEY'} is: mTLS needs both`,
      fix: 'set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY together (the client certificate and its key), or neither',
    },
  ];
}

/** Every string in the configuration with its field path (`images.0.name`). */
function strings(value: unknown, path: string[] = []): Array<{ path: string; value: string }> {
  if (typeof value === 'string') return [{ path: path.join('.'), value }];
  if (Array.isArray(value)) return value.flatMap((item, i) => strings(item, [...path, String(i)]));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([key, child]) => strings(child, [...path, key]));
  return [];
}

/** `<owner>`, `<host>`: a value the example or the README asks the reader to fill in. */
const PLACEHOLDER = /<[A-Za-z][\w .-]{0,40}>/;

function placeholderValues(config: DeployConfig): PreflightProblem[] {
  return strings(config).flatMap(({ path, value }): PreflightProblem[] => {
    const placeholder = PLACEHOLDER.exec(value)?.[0];
    return placeholder
      ? [
          {
            severity: 'error',
            subject: path,
            problem: `${path}: ${placeholder} is a placeholder to fill in`,
            fix: `replace ${placeholder} in ${path} with the real value`,
          },
        ]
      : [];
  });
}

/** The URL fields and what each names, for the messages. */
function urlFields(config: DeployConfig): Array<{ field: string; url: string; what: string }> {
  return [
    {
      field: 'github.apiUrl',
      url: config.github.apiUrl,
      what: "GitHub's API (https://api.github.com, or https://<host>/api/v3)",
    },
    ...(config.repository.cloneUrl
      ? [{ field: 'repository.cloneUrl', url: config.repository.cloneUrl, what: "the repository's clone URL" }]
      : []),
    {
      field: 'registry.endpoint',
      url: config.registry.endpoint,
      what: 'your container registry (https://<name>.azurecr.io)',
    },
    { field: 'argocd.server', url: config.argocd.server, what: 'your Argo CD API server' },
  ];
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase().replace(/^\[|\]$/g, '') || undefined;
  } catch {
    return undefined; // ssh's git@host:path, which names no placeholder host anyone copies
  }
}

/** RFC 2606's names for documentation: example.com/.net/.org and the .example and .invalid top-level domains. */
export function isPlaceholderHost(host: string): boolean {
  return /(^|\.)example\.(com|net|org)$|\.(example|invalid)$|^(example|invalid)$/.test(host.toLowerCase());
}

function placeholderHosts(config: DeployConfig): PreflightProblem[] {
  return urlFields(config).flatMap(({ field, url, what }): PreflightProblem[] => {
    const host = hostOf(url);
    return host && isPlaceholderHost(host)
      ? [
          {
            severity: 'error',
            subject: field,
            problem: `${field}: ${host} is a placeholder (a name reserved for examples), not a server`,
            fix: `set ${field} to ${what}`,
          },
        ]
      : [];
  });
}

const isLoopback = (host: string) => host === 'localhost' || /^127\./.test(host) || host === '::1';

/** GitHub and Argo CD receive a token with every request: over http:// anyone on the path reads it. */
function clearTextHosts(config: DeployConfig): PreflightProblem[] {
  return urlFields(config)
    .filter(({ field }) => field === 'github.apiUrl' || field === 'argocd.server')
    .flatMap(({ field, url }): PreflightProblem[] => {
      const host = hostOf(url);
      return url.startsWith('http://') && host && !isLoopback(host)
        ? [
            {
              severity: 'warning',
              subject: field,
              problem: `${field} is plain http:// to ${host}: the token travels in clear text`,
              fix: `use https:// for ${field}`,
            },
          ]
        : [];
    });
}

const ACR_HOST = /\.azurecr\.(io|cn|us)$/i;

/**
 * An Azure Container Registry needs an Azure identity. DefaultAzureCredential finds one in many
 * places (managed identity through IMDS leaves no trace in the environment), so this only warns.
 */
function azureCredentialWarnings(config: DeployConfig, env: NodeJS.ProcessEnv): PreflightProblem[] {
  const host = hostOf(config.registry.endpoint);
  if (!host || !ACR_HOST.test(host)) return [];
  const secretOrCertificate = env.AZURE_CLIENT_SECRET || env.AZURE_CLIENT_CERTIFICATE_PATH;
  if (secretOrCertificate && !(env.AZURE_TENANT_ID && env.AZURE_CLIENT_ID))
    return [
      {
        severity: 'warning',
        subject: 'AZURE_TENANT_ID',
        problem: `${env.AZURE_CLIENT_SECRET ? 'AZURE_CLIENT_SECRET' : 'AZURE_CLIENT_CERTIFICATE_PATH'} is set without ${env.AZURE_TENANT_ID ? 'AZURE_CLIENT_ID' : 'AZURE_TENANT_ID'}: the service principal is incomplete`,
        fix: 'set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET together',
      },
    ];
  const found = [
    'AZURE_FEDERATED_TOKEN_FILE',
    'AZURE_CLIENT_ID',
    'AZURE_CLIENT_SECRET',
    'AZURE_CLIENT_CERTIFICATE_PATH',
    'IDENTITY_ENDPOINT',
    'MSI_ENDPOINT',
  ].some((name) => env[name]);
  if (found) return [];
  return [
    {
      severity: 'warning',
      subject: 'registry.endpoint',
      problem: `${host} is an Azure Container Registry and no Azure credential is set in the environment (workload identity, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, managed identity)`,
      fix: 'on AKS use workload identity (the service account annotation and pod label); elsewhere AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET. A managed identity or az login may still be found: `deployctl doctor` tries it',
    },
  ];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function lines(problem: PreflightProblem, mark: string): string[] {
  return [`${mark} ${problem.problem}`, `    fix: ${problem.fix}`];
}

/** What a start prints: the errors that stop it, then the warnings, each with its fix. Pure. */
export function formatPreflight(problems: PreflightProblem[], who: string): string {
  const errors = problems.filter((p) => p.severity === 'error');
  const warnings = problems.filter((p) => p.severity === 'warning');
  return [
    ...(errors.length
      ? [`${who} cannot start: ${plural(errors.length, 'problem')} in its configuration and environment`]
      : []),
    ...errors.flatMap((p) => lines(p, '  ✖')),
    ...warnings.flatMap((p) => lines(p, '⚠ WARNING:')),
    ...(errors.length
      ? ['Nothing was started. `deployctl doctor` checks the rest: Temporal, GitHub access, the registry, Argo CD.']
      : []),
  ].join('\n');
}

/** The start's errors, as a configuration error (exit code 2), with the whole report as its message. */
export class PreflightError extends ConfigError {
  constructor(
    readonly preflightProblems: PreflightProblem[],
    who: string,
  ) {
    super(
      'the environment',
      preflightProblems.filter((p) => p.severity === 'error').map((p) => `${p.problem} (fix: ${p.fix})`),
    );
    this.name = 'PreflightError';
    this.message = formatPreflight(preflightProblems, who);
  }
}

/**
 * The preflight of a process start: throws a PreflightError when there is an error, so the caller's
 * ConfigError handling exits 2; otherwise hands the warnings to `report` (default: stderr, loudly).
 */
export function assertPreflight(
  config: DeployConfig,
  role: PreflightRole,
  options: { env?: NodeJS.ProcessEnv; who?: string; report?: (warnings: PreflightProblem[]) => void } = {},
): PreflightProblem[] {
  const { env = process.env, who = `gitops-deployer ${role}` } = options;
  const report = options.report ?? ((warnings) => process.stderr.write(`${formatPreflight(warnings, who)}\n`));
  const problems = preflight(config, env, role);
  if (problems.some((p) => p.severity === 'error')) throw new PreflightError(problems, who);
  if (problems.length && !env[PREFLIGHT_REPORTED_ENV]) report(problems);
  return problems;
}
