import { ApplicationFailure } from '@temporalio/common';
import { notifyUrlVariable } from '../config/schema';
import { formatDuration } from '../plan/duration';

// The fault table: every way a request to GitHub, the registry or Argo CD can fail, decided once,
// as one of
//   retry      the activity's retry policy tries again with its backoff (a plain error, below);
//   wait       retry at the time the server named (Retry-After, x-ratelimit-reset): nextRetryDelay;
//   permanent  retrying cannot help; the message says what a person must change (nonRetryable).
// The first row that matches decides: a request that got no answer, then each service's own rows,
// then the rows for any service.
// src/activities/failures.ts reads the facts (`Observed`) out of each client's errors.
// A GitHub request meets the table only after its client's in-process layer (src/activities/octokit.ts):
// a wait GitHub names of up to 30 s, and a 5xx or network blip, are dealt with inside the request.
//
// git's rows (a failed clone, fetch or push, read from git's own output) live in
// src/activities/git-errors.ts; Temporal's, where the callers are: the relay answers 503 while it
// cannot be asked (src/relay/temporal-health.ts), the worker and deployctl name the address they
// could not reach (src/temporal/connection.ts, src/cli/connect.ts).
//
// A missing image is not here: a registry's 404 for a manifest is an answer ("no such image"), not
// a fault; src/activities/registry.ts reports it (ImageNotFound).

/** A notification sink is named by its config name (`subject`); its URL is a secret, so only its host is shown. */
export type Service = 'GitHub' | 'registry' | 'Argo CD' | 'notification sink';

/**
 * Each request's own deadline: long enough for GitHub or a registry on a slow day, short enough
 * that a connection that never answers costs one retry, not the step's start-to-close timeout.
 */
export const REQUEST_TIMEOUT_MS = 15_000;

/** What one failed request showed, whichever client made it. */
export interface Observed {
  service: Service;
  /** host[:port] the request went to. */
  host: string;
  /** What was asked for: `pull request #5 of o/r`, `application "x"`, an image reference. */
  subject?: string;
  /** What a 404 means for this request, with the setting to check. */
  notFound?: string;
  /** The HTTP status, when the server answered. */
  status?: number;
  header?: (name: string) => string | null | undefined;
  /** The server's (or the client library's) own words; redacted before any message quotes them. */
  detail?: string;
  /** The URL path, for requests the caller did not make itself (the registry's token exchange). */
  path?: string;
  /** No answer came within this long. */
  timedOutAfterMs?: number;
  /** The network error's code when no answer came: ECONNREFUSED, ENOTFOUND, ERR_TLS_CERT_ALTNAME_INVALID… */
  code?: string;
  /** The Azure credential had no token to give; its own explanation. */
  credentialUnavailable?: string;
}

/**
 * Faults the activity's retry policy retries with its backoff. Plain errors rather than
 * ApplicationFailures: Temporal records the class name as the failure's type.
 */
export class Timeout extends Error {
  override name = 'Timeout';
}
export class Unreachable extends Error {
  override name = 'Unreachable';
}
export class Unavailable extends Error {
  override name = 'Unavailable';
}
const RETRYABLE = { Timeout, Unreachable, Unavailable };

interface RowBase {
  /** The fault, as a person names it. */
  fault: string;
  /** Only for this service; absent: any. */
  service?: Service;
  when(o: Observed): boolean;
  message(o: Observed, now: number): string;
}
export type Row = RowBase &
  (
    | { decision: 'retry'; type: keyof typeof RETRYABLE }
    | { decision: 'wait'; type: string; waitMs(o: Observed, now: number): number }
    | { decision: 'permanent'; type: string }
  );

/** The certificate checks of Node's TLS and OpenSSL; a server that does not speak TLS at all (ERR_SSL_…) is only unreachable. */
const TLS_CODE =
  /^(ERR_TLS_CERT_ALTNAME_INVALID|CERT_[A-Z_]+|UNABLE_TO_(GET|VERIFY)_[A-Z_]+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)$/;
/** GitHub's advice for a secondary rate limit that names no time: wait at least a minute. */
const GITHUB_SECONDARY_WAIT_MS = 60_000;
const GITHUB_PERMISSIONS = 'contents: write and actions: read on the repository (pull requests: read for previews)';
const AZURE_IDENTITY =
  'workload identity, managed identity, AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or az login';
const AUTH_WE_SPEAK =
  'gitops-deployer authenticates with Azure AD tokens (ACR) or anonymously, never with a user name and password';

const who = (o: Observed) =>
  o.service === 'registry'
    ? `registry ${o.host}`
    : o.service === 'notification sink'
      ? `notification sink "${o.subject}" at ${o.host}`
      : `${o.service} at ${o.host}`;
const http = (o: Observed) => `HTTP ${o.status}${o.detail ? `: ${redact(o.detail)}` : ''}`;
const what = (o: Observed) => o.subject ?? o.path ?? 'the request';
const rateLimited = (o: Observed) => o.status === 403 || o.status === 429;
const retryAfter = (o: Observed, now: number) => retryAfterMs(o.header?.('retry-after'), now);
const challenge = (o: Observed) => o.header?.('www-authenticate') ?? '';
/** x-ratelimit-reset: when the window resets, in seconds since the epoch. */
const resetAt = (o: Observed) => {
  const seconds = Number(o.header?.('x-ratelimit-reset'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1_000 : undefined;
};

export const FAULTS: readonly Row[] = [
  // No answer.
  {
    fault: 'no answer within the request timeout',
    decision: 'retry',
    type: 'Timeout',
    when: (o) => o.timedOutAfterMs !== undefined,
    message: (o) => `${who(o)} did not answer within ${formatDuration(o.timedOutAfterMs!)}`,
  },
  {
    fault: 'TLS: the server certificate is not trusted, or not for this host',
    decision: 'permanent',
    type: 'TlsUntrusted',
    when: (o) => o.status === undefined && TLS_CODE.test(o.code ?? ''),
    message: (o) =>
      `${who(o)}: TLS failed (${o.code}): the worker does not trust the server's certificate for ${o.host}. Give the worker the CA that signed it (NODE_EXTRA_CA_CERTS=ca.pem), or fix the certificate`,
  },
  {
    fault: 'unreachable: connection refused or reset, DNS, no route',
    decision: 'retry',
    type: 'Unreachable',
    when: (o) => o.status === undefined && o.code !== undefined,
    message: (o) => `cannot reach ${who(o)} (${o.code})`,
  },

  // GitHub answers 403 or 429 for its rate limits; the headers tell which and until when.
  {
    fault: 'GitHub secondary rate limit, with Retry-After',
    service: 'GitHub',
    decision: 'wait',
    type: 'RateLimited',
    when: (o) => rateLimited(o) && retryAfter(o, 0) !== undefined,
    waitMs: (o, now) => retryAfter(o, now)!,
    message: (o, now) =>
      `GitHub secondary rate limit (HTTP ${o.status}): retrying after ${formatDuration(retryAfter(o, now)!)}, as Retry-After asks`,
  },
  {
    fault: 'GitHub primary rate limit: x-ratelimit-remaining 0',
    service: 'GitHub',
    decision: 'wait',
    type: 'RateLimited',
    when: (o) => rateLimited(o) && o.header?.('x-ratelimit-remaining') === '0' && resetAt(o) !== undefined,
    waitMs: (o, now) => Math.max(1_000, resetAt(o)! - now),
    message: (o) => `GitHub rate limit exhausted until ${new Date(resetAt(o)!).toISOString().slice(11, 19)} UTC`,
  },
  {
    fault: 'GitHub secondary rate limit, without Retry-After',
    service: 'GitHub',
    decision: 'wait',
    type: 'RateLimited',
    when: (o) => o.status === 429 || (o.status === 403 && /rate limit/i.test(o.detail ?? '')),
    waitMs: () => GITHUB_SECONDARY_WAIT_MS,
    message: (o) =>
      `GitHub secondary rate limit (HTTP ${o.status}) without Retry-After: retrying after ${formatDuration(GITHUB_SECONDARY_WAIT_MS)}, as GitHub advises`,
  },
  {
    fault: 'GitHub 401: the token is missing, wrong, expired or revoked',
    service: 'GitHub',
    decision: 'permanent',
    type: 'Unauthorized',
    when: (o) => o.status === 401,
    message: (o) =>
      `GitHub refused GITHUB_TOKEN reading ${what(o)} (${http(o)}): the token is missing, wrong, expired or revoked. Set GITHUB_TOKEN to a token with ${GITHUB_PERMISSIONS}`,
  },
  // Reporting needs permissions a deploy alone does not: GitHub names none, the path tells which.
  {
    fault: 'GitHub 403 on deployments: the token lacks deployments: write',
    service: 'GitHub',
    decision: 'permanent',
    type: 'Forbidden',
    when: (o) => o.status === 403 && /^\/repos\/[^/]+\/[^/]+\/deployments(\/|$)/.test(o.path ?? ''),
    message: (o) =>
      `GitHub refused ${what(o)} (${http(o)}): GITHUB_TOKEN may not write deployments. Give it deployments: write on the repository (a classic token: the repo scope), or switch GitHub Deployments off (environment.githubDeployments, preview.githubDeployments)`,
  },
  {
    fault: 'GitHub 403 on issue comments: the token lacks pull requests: write',
    service: 'GitHub',
    decision: 'permanent',
    type: 'Forbidden',
    when: (o) => o.status === 403 && /^\/repos\/[^/]+\/[^/]+\/issues\/(\d+\/)?comments(\/|$)/.test(o.path ?? ''),
    message: (o) =>
      `GitHub refused ${what(o)} (${http(o)}): GITHUB_TOKEN may not comment on pull requests. Give it pull requests: write on the repository (a classic token: the repo scope), or switch the preview comment off (preview.comment: false)`,
  },
  {
    fault: 'GitHub 403 without rate-limit headers: the token lacks a permission',
    service: 'GitHub',
    decision: 'permanent',
    type: 'Forbidden',
    when: (o) => o.status === 403,
    message: (o) =>
      `GitHub refused ${what(o)} (${http(o)}): GITHUB_TOKEN lacks a permission. It needs ${GITHUB_PERMISSIONS}; a fine-grained token must also list the repository`,
  },

  // The registry: the Azure SDK speaks ACR's token exchange, nothing else.
  {
    fault: 'registry 401 asking for an authentication other than Bearer (Basic)',
    service: 'registry',
    decision: 'permanent',
    type: 'RegistryAuthUnsupported',
    when: (o) => o.status === 401 && challenge(o) !== '' && !/^\s*bearer\b/i.test(challenge(o)),
    message: (o) =>
      `registry ${o.host} asks for ${challenge(o).trim().split(/\s/)[0]} authentication; ${AUTH_WE_SPEAK}. Point registry.endpoint at an Azure Container Registry, or allow anonymous pulls on this registry`,
  },
  {
    fault: 'registry asks for a token and no Azure credential is available',
    service: 'registry',
    decision: 'permanent',
    type: 'RegistryCredentials',
    when: (o) => o.credentialUnavailable !== undefined,
    message: (o) =>
      `registry ${o.host} asks for a token and the worker has no Azure credential (${redact(o.credentialUnavailable!)}). Give the worker an Azure identity with the AcrPull role: ${AZURE_IDENTITY}`,
  },
  {
    fault: 'registry asks for a Bearer token but has no ACR token exchange (404 on /oauth2/…)',
    service: 'registry',
    decision: 'permanent',
    type: 'RegistryAuthUnsupported',
    when: (o) => o.status === 404 && /^\/oauth2\//.test(o.path ?? ''),
    message: (o) =>
      `registry ${o.host} asks for a token but is not an Azure Container Registry (${o.path} answered 404); ${AUTH_WE_SPEAK}. Point registry.endpoint at an Azure Container Registry, or allow anonymous pulls on this registry`,
  },
  {
    fault: "registry 401/403: the worker's identity may not pull",
    service: 'registry',
    decision: 'permanent',
    type: 'Unauthorized',
    when: (o) => o.status === 401 || o.status === 403,
    message: (o) =>
      `registry ${o.host} refused the worker's credentials for ${what(o)} (${http(o)}): the worker's Azure identity needs the AcrPull role on the registry`,
  },

  // Argo CD answers 403, not 404, for an application it does not know unless the caller names its project.
  {
    fault: 'Argo CD 401: the token is missing, wrong or expired',
    service: 'Argo CD',
    decision: 'permanent',
    type: 'Unauthorized',
    when: (o) => o.status === 401,
    message: (o) =>
      `Argo CD at ${o.host} refused ARGOCD_TOKEN (${http(o)}): the token is missing, wrong or expired. Set ARGOCD_TOKEN to an API token of an account that may get ${what(o)}`,
  },
  {
    fault: 'Argo CD 403: no such application, or the token may not read it',
    service: 'Argo CD',
    decision: 'permanent',
    type: 'ApplicationNotFound',
    when: (o) => o.status === 403,
    message: (o) =>
      `Argo CD at ${o.host}: no ${what(o)}, or ARGOCD_TOKEN may not read it (HTTP 403; Argo CD answers 403 for both). Check argocd.application (preview.application for previews) and that the token's account may get applications in its project`,
  },

  // A notification sink: its URL (a secret, never quoted) and its format are all there is to check.
  {
    fault: 'notification sink 400/413/415/422: the sink does not take the body',
    service: 'notification sink',
    decision: 'permanent',
    type: 'NotificationRejected',
    when: (o) => [400, 413, 415, 422].includes(o.status ?? 0),
    message: (o) =>
      `${who(o)} rejected the notification (${http(o)}): check that the sink takes the format configured for "${o.subject}" (notifications: slack or cloudevents) and that ${notifyUrlVariable(o.subject ?? '')} is its webhook URL`,
  },
  {
    fault: 'notification sink 3xx/4xx (not 408, 429): the webhook URL is wrong or was removed',
    service: 'notification sink',
    decision: 'permanent',
    type: 'NotificationRefused',
    when: (o) => o.status !== undefined && o.status < 500 && o.status !== 408 && o.status !== 429,
    message: (o) =>
      `${who(o)} refused the notification (${http(o)}): check that ${notifyUrlVariable(o.subject ?? '')} holds the sink's current webhook URL (a removed or mistyped webhook answers 403, 404 or 410; redirects are not followed)`,
  },

  // Any service.
  {
    fault: '429 with Retry-After',
    decision: 'wait',
    type: 'RateLimited',
    when: (o) => o.status === 429 && retryAfter(o, 0) !== undefined,
    waitMs: (o, now) => retryAfter(o, now)!,
    message: (o, now) =>
      `${who(o)} is rate limiting (HTTP 429): retrying after ${formatDuration(retryAfter(o, now)!)}, as Retry-After asks`,
  },
  {
    fault: '404: what was asked for does not exist',
    decision: 'permanent',
    type: 'NotFound',
    when: (o) => o.status === 404,
    message: (o) => o.notFound ?? `${who(o)}: ${what(o)} not found (${http(o)})`,
  },
  {
    fault: 'other 4xx: the request itself is wrong (not 408 Request Timeout, 429 Too Many Requests)',
    decision: 'permanent',
    type: 'BadRequest',
    when: (o) => o.status !== undefined && o.status >= 400 && o.status < 500 && o.status !== 408 && o.status !== 429,
    message: (o) => `${who(o)} rejected the request for ${what(o)} (${http(o)})`,
  },
  {
    fault: '5xx, 408, 429 without Retry-After, and any other answer',
    decision: 'retry',
    type: 'Unavailable',
    when: () => true,
    message: (o) => `${who(o)} failed${o.status ? ` (${http(o)})` : o.detail ? `: ${redact(o.detail)}` : ''}`,
  },
];

/** The table's verdict on one failed request, as the error the step throws. */
export function fault(o: Observed, now = Date.now()): Error {
  const row = FAULTS.find((r) => (r.service === undefined || r.service === o.service) && r.when(o))!;
  const message = row.message(o, now);
  switch (row.decision) {
    case 'permanent':
      return ApplicationFailure.nonRetryable(message, row.type);
    case 'wait':
      return ApplicationFailure.create({ message, type: row.type, nextRetryDelay: row.waitMs(o, now) });
    case 'retry':
      return new RETRYABLE[row.type](message);
  }
}

/** Whether the error is already a verdict of the table (or another step's), so it passes through unchanged. */
export function isVerdict(err: unknown): boolean {
  return (
    err instanceof ApplicationFailure ||
    err instanceof Timeout ||
    err instanceof Unreachable ||
    err instanceof Unavailable
  );
}

/** Retry-After is either seconds or an HTTP date; an unusable value names no time. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.max(1_000, seconds * 1_000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(1_000, date - now);
}

// Tokens some servers echo back (GitHub's ghp_/ghs_/github_pat_, JWTs such as Argo CD's and ACR's,
// an Authorization header's value): a message is read by people and stored in workflow history.
const SECRETS: Array<[RegExp, string]> = [
  [/\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]+/g, '[redacted]'],
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, '[redacted]'],
  [/\b(Bearer|Basic|token)\s+[A-Za-z0-9._~+/-]{16,}=*/gi, '$1 [redacted]'],
];

/** Text without the tokens it may hold (GitHub tokens, JWTs, Bearer/Basic values) or credentials in URLs; lines kept. */
export function withoutSecrets(text: string): string {
  return SECRETS.reduce((t, [pattern, replacement]) => t.replace(pattern, replacement), text).replace(
    /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@'"]*@/gi,
    '$1',
  );
}

/** The server's words, short enough for one line and without any token they echoed. */
export function redact(text: string): string {
  const clean = withoutSecrets(text.replace(/\s+/g, ' ').trim());
  return clean.length > 300 ? `${clean.slice(0, 300)}…` : clean;
}
