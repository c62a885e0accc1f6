import type { Octokit } from '@octokit/rest';
import { requestFailure } from '../activities/failures';
import { fail, pass, warn, type Outcome } from './check';
import type { GitHubIdentity, RateLimit } from './context';
import { fixFor, problemOf, problemsFor } from './problems';
import type { PreflightProblem } from '../config/preflight';

/** What a token's prefix says it is (GitHub's documented prefixes); nothing else of it is ever shown. */
export type GitHubTokenKind = 'app-installation' | 'fine-grained' | 'classic' | 'oauth' | 'app-user' | 'unknown';

const KINDS: Array<[prefix: string, kind: GitHubTokenKind, label: string]> = [
  ['github_pat_', 'fine-grained', 'fine-grained personal access token'],
  ['ghs_', 'app-installation', 'GitHub App installation token'],
  ['ghp_', 'classic', 'classic personal access token'],
  ['gho_', 'oauth', 'OAuth app token'],
  ['ghu_', 'app-user', 'GitHub App user token'],
];

export function githubTokenKind(token: string): { kind: GitHubTokenKind; label: string } {
  const found = KINDS.find(([prefix]) => token.startsWith(prefix));
  return found
    ? { kind: found[1], label: `${found[2]} (${found[0]}…)` }
    : { kind: 'unknown', label: 'token without a GitHub type prefix' };
}

/** GET /rate_limit: costs nothing against the limit, and answers 401 to a token GitHub does not accept. */
export async function readIdentity(octokit: Octokit, apiHost: string): Promise<GitHubIdentity> {
  try {
    const { data, headers } = await octokit.rest.rateLimit.get();
    const core = data.resources.core;
    const scopes = headers['x-oauth-scopes'];
    return {
      scopes:
        typeof scopes === 'string'
          ? scopes
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : undefined,
      core: { limit: core.limit, remaining: core.remaining, resetAt: core.reset * 1_000 },
    };
  } catch (err) {
    throw requestFailure('GitHub', apiHost, err, { subject: 'the rate limit (GET /rate_limit)' });
  }
}

export interface TokenCheckInput {
  token?: string;
  apiUrl: string;
  preflight: PreflightProblem[];
  identity: () => Promise<GitHubIdentity>;
}

/** GITHUB_TOKEN present and accepted by GitHub's API. */
export async function checkGitHubToken({ token, apiUrl, preflight, identity }: TokenCheckInput): Promise<Outcome> {
  const refused = problemsFor(preflight, ['GITHUB_TOKEN', 'github.apiUrl']);
  if (refused) return refused;
  const { label } = githubTokenKind(token!.trim());
  const host = new URL(apiUrl).host;
  try {
    const { scopes } = await identity();
    return pass(
      `GITHUB_TOKEN present (${label}), accepted by ${host}`,
      scopes ? [`scopes: ${scopes.join(', ') || '(none)'}`] : [],
    );
  } catch (err) {
    const token = `replace GITHUB_TOKEN where the worker runs (its Secret) with a token ${host} accepts`;
    return fail(problemOf(err), fixFor(err, 'github.apiUrl', { Unauthorized: token, Forbidden: token }, token));
  }
}

/** Below this share of the hourly budget, deploys may start waiting for the reset. */
const LOW_SHARE = 0.1;

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/** The token's hourly budget: plenty, low, or spent (the worker then waits for the reset; not a failure). */
export function rateLimitOutcome({ limit, remaining, resetAt }: RateLimit, now: number): Outcome {
  const minutes = Math.max(0, Math.ceil((resetAt - now) / 60_000));
  const summary = `${remaining} of ${limit} requests left this hour, resets at ${clock(resetAt)} UTC (in ${minutes} min)`;
  if (remaining > limit * LOW_SHARE) return pass(summary);
  return warn(
    summary,
    remaining === 0
      ? 'deploys wait for the reset and go on by themselves; for more headroom use a GitHub App installation token (5,000 or more an hour, its own budget)'
      : 'other tools share this budget with the deployer: give the deployer a token of its own (a GitHub App installation has a budget of its own)',
  );
}
