import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import type { Logger } from '@temporalio/common';
import { formatDuration } from '../plan/duration';
import { REQUEST_TIMEOUT_MS, Unavailable, Unreachable } from './faults';
import { requestFailure } from './failures';
import { stepLog } from './log';

// The one GitHub client. Three layers retry a failed request, each for what it is good at:
//   in-process (here)  a short wait GitHub named, and a 5xx or network blip, inside the request;
//   the fault table    a longer named wait becomes nextRetryDelay: a durable timer that frees the slot;
//   Temporal           the step's retry policy (src/workflows/steps.ts), with its backoff.

/**
 * The longest wait GitHub names (Retry-After, x-ratelimit-reset) that a request waits out in-process.
 * The step keeps heartbeating meanwhile; 30 s plus one REQUEST_TIMEOUT_MS for the retried request
 * stays inside a step attempt's minute. Anything longer frees the worker's slot as a durable wait.
 */
export const IN_PROCESS_WAIT_MAX_S = 30;
/**
 * In-process retries of a 5xx or a request that got no answer (not one that timed out: that already
 * cost REQUEST_TIMEOUT_MS). A blip is over in a second; anything longer is Temporal's, with its backoff.
 */
export const IN_PROCESS_RETRIES = 2;
/** plugin-retry waits base × n² before retry n: 250 ms, then 1 s. */
export const IN_PROCESS_RETRY_BASE_MS = 250;

export interface GitHubClientOptions {
  /** GITHUB_TOKEN, read from the environment by the caller; never logged. */
  token: string | undefined;
  /** github.apiUrl. */
  baseUrl: string;
  /** Where each in-process wait is said, once, at warn (default: the steps' logger). */
  logger?: Pick<Logger, 'warn'>;
}

/** Whether to wait out a rate limit inside the request: a short wait, and only the first time. */
export function waitsInProcess(retryAfterSeconds: number, retryCount: number): boolean {
  return retryCount === 0 && retryAfterSeconds <= IN_PROCESS_WAIT_MAX_S;
}

// Failed requests surface as typed activity failures; Octokit's own error log would only repeat them.
const QUIET = { debug() {}, info() {}, warn: console.warn, error() {} };

/**
 * fetch with a deadline on every request. Octokit v22 has no timeout option of its own: it hands
 * `request.fetch` the request and any caller's signal, and wraps what fetch throws (the timeout's
 * TimeoutError stays its cause, which the fault table reads).
 */
function fetchWithTimeout(): typeof fetch {
  return (input, init) => {
    const deadline = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    return fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline });
  };
}

/** What a line may name of a request: its method and route, never a query string or a full URL. */
function route(options: { method?: string; url?: string }): string {
  const url = options.url ?? '';
  let path = url.split('?')[0]!;
  try {
    path = new URL(url).pathname; // a paginated request's next page is a full URL
  } catch {
    // a route template such as /repos/{owner}/{repo}/pulls/{pull_number}
  }
  return `${options.method ?? 'GET'} ${path}`;
}

/** What the hook reads and sets of a request's options (plugin-retry's per-request `retries`). */
interface RequestOptions {
  method?: string;
  url?: string;
  request: { retries?: number; retryCount?: number };
}
interface Hooks {
  hook: { error(name: 'request', hook: (error: unknown, options: RequestOptions) => unknown): void };
}
/** The client's options this plugin reads (Octokit passes every option to every plugin). */
interface FaultTableOptions {
  /** Where the in-process retries are said. */
  retryLog?: Pick<Logger, 'warn'>;
  baseUrl?: string;
}

/**
 * plugin-retry retries any status it does not list and any request that got no answer, the timed-out
 * ones included. This hook runs inside it (it is the earlier plugin) and lets the fault table decide
 * instead: only what the table retries with backoff (Unavailable, Unreachable; not Timeout) is retried
 * in-process, through plugin-retry's per-request `retries`, and each retry is said once.
 */
function faultTableRetries(
  octokit: unknown,
  { retryLog = stepLog, baseUrl = 'https://api.github.com' }: FaultTableOptions,
) {
  const host = new URL(baseUrl).host;
  (octokit as Hooks).hook.error('request', (error, options) => {
    const verdict = requestFailure('GitHub', host, error);
    const retried = verdict instanceof Unavailable || verdict instanceof Unreachable;
    options.request.retries = retried ? IN_PROCESS_RETRIES : 0;
    // plugin-retry counts the attempts of this request in options.request.retryCount.
    const attempt = options.request.retryCount ?? 0;
    if (retried && attempt < IN_PROCESS_RETRIES) {
      const delay = formatDuration((attempt + 1) ** 2 * IN_PROCESS_RETRY_BASE_MS);
      // The table's message: the server's words redacted, no token.
      retryLog.warn(
        `${verdict.message}: ${route(options)} retried in-process in ${delay} (${attempt + 1} of ${IN_PROCESS_RETRIES})`,
      );
    }
    throw error;
  });
  return {};
}

interface Wraps {
  hook: {
    wrap(name: 'request', hook: (request: (o: RequestOptions) => unknown, options: RequestOptions) => unknown): void;
  };
}

/**
 * Every request gets its own `request` options. Octokit hands each request its defaults' `request`
 * object itself, shared by all; the plugins count a request's retries on it (`retryCount`, and
 * `retries` above), so without a copy one request's retries would shorten or lengthen the next one's.
 */
function ownRequestOptions(octokit: unknown) {
  (octokit as Wraps).hook.wrap('request', (request, options) => {
    options.request = { ...options.request };
    return request(options);
  });
  return {};
}

// The earlier plugin's hook runs inside the later ones': the fault table's hook inside plugin-retry,
// both inside plugin-throttling (the order octokit.js itself uses: retry, then throttling); the copy
// of the request options outside them all.
const GitHubClient = Octokit.plugin(faultTableRetries, retry, throttling, ownRequestOptions);

/**
 * The GitHub client every step and deployctl doctor use. plugin-throttling keeps GitHub's pacing
 * (at most 10 requests at once; mutating requests at least 1 s apart, 3 s for those that notify
 * people, such as a new comment) and waits out a short rate limit; plugin-retry absorbs a blip.
 */
export function createOctokit({ token, baseUrl, logger = stepLog }: GitHubClientOptions): Octokit {
  const onLimit =
    (kind: string, asks: string) =>
    (retryAfter: number, options: { method?: string; url?: string }, _octokit: unknown, retryCount: number) => {
      if (!waitsInProcess(retryAfter, retryCount)) return false;
      const wait = retryAfter > 0 ? `waiting ${formatDuration(retryAfter * 1_000)}` : 'retrying at once';
      logger.warn(`GitHub ${kind} on ${route(options)}: ${wait} in-process, as ${asks}`);
      return true;
    };
  return new GitHubClient({
    auth: token,
    baseUrl: baseUrl.replace(/\/+$/, ''),
    userAgent: 'gitops-deployer',
    log: QUIET,
    retryLog: logger,
    request: { fetch: fetchWithTimeout() },
    retry: { retries: IN_PROCESS_RETRIES, retryAfterBaseValue: IN_PROCESS_RETRY_BASE_MS },
    throttle: {
      onSecondaryRateLimit: onLimit('secondary rate limit', 'Retry-After asks'),
      onRateLimit: onLimit('rate limit exhausted', 'x-ratelimit-reset says'),
    },
  });
}
