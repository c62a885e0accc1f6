import type { Octokit } from '@octokit/rest';
import { requestFailure } from '../activities/failures';
import type { PreflightProblem } from '../config/preflight';
import { fail, pass, warn, type Outcome } from './check';
import type { GitHubIdentity } from './context';
import { probeReceivePack, type ReceivePackAnswer } from './git-probe';
import { githubTokenKind, type GitHubTokenKind } from './github-token';
import { fixFor, problemOf, problemsFor } from './problems';

// Push access, by token type (GitHub's REST docs):
//   classic and OAuth tokens: X-OAuth-Scopes must hold `repo` (`public_repo` for a public repository),
//     and scopes grant nothing beyond the user's own role: GET /repos/{o}/{r} permissions.push.
//   fine-grained tokens: permissions.push is the user's role; the token's own "Contents: write" is not
//     visible over REST.
//   GitHub App installation tokens: permissions.push describes no user; the installation's own
//     permissions are visible only with the App's JWT.
// The receive-pack probe (git-probe.ts) answers for every type: the git server refuses it with 403
// when the token may not push.

export interface RepositoryFacts {
  kind: GitHubTokenKind;
  /** X-OAuth-Scopes, when GitHub sent it (classic and OAuth tokens). */
  scopes?: string[];
  isPrivate: boolean;
  /** GET /repos/{o}/{r} permissions.push; undefined when absent. */
  push?: boolean;
}

export interface Problem {
  problem: string;
  fix: string;
}

const MODERN = 'a GitHub App installation token or a fine-grained token with contents: write';

/** What the REST API shows against pushing, or undefined when it shows nothing against it. */
export function restPushProblem(facts: RepositoryFacts, repository: string): Problem | undefined {
  const { kind, scopes, isPrivate, push } = facts;
  if ((kind === 'classic' || kind === 'oauth') && scopes) {
    const enough = scopes.includes('repo') || (!isPrivate && scopes.includes('public_repo'));
    if (!enough)
      return {
        problem: `GITHUB_TOKEN lacks the repo scope (its scopes: ${scopes.join(', ') || 'none'}), so it cannot push to ${repository}`,
        fix: `create the token with the repo scope, or use ${MODERN}`,
      };
  }
  // An App installation acts as no user: permissions.push says nothing about it.
  if (kind !== 'app-installation' && push === false)
    return {
      problem: `the token's user may not push to ${repository} (permissions.push is false)`,
      fix: `give that user write access to ${repository}, or use a GitHub App installed on it with contents: write`,
    };
  return undefined;
}

const TLS_CODE = /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)/;

function readOnlyFix(kind: GitHubTokenKind): string {
  switch (kind) {
    case 'app-installation':
      return 'give the GitHub App the repository permission Contents: Read and write (the installation must accept it)';
    case 'fine-grained':
      return 'edit the token: Repository access must include the repository, Repository permissions → Contents: Read and write';
    case 'classic':
    case 'oauth':
      return 'use a token with the repo scope whose user may push to the repository';
    default:
      return 'give the token write access to the repository contents';
  }
}

/** The probe's answer as a problem, or undefined when the server would take a push. */
export function receivePackProblem(
  answer: Extract<ReceivePackAnswer, { probed: true }>,
  origin: string,
  kind: GitHubTokenKind,
): Problem | undefined {
  const host = new URL(origin).host;
  if ('error' in answer) {
    return TLS_CODE.test(answer.error)
      ? {
          problem: `TLS to the git origin ${host} failed (${answer.error}): git would not trust the server either`,
          fix: 'name the CA that signed its certificate in GIT_SSL_CAINFO (git) and NODE_EXTRA_CA_CERTS (the APIs)',
        }
      : {
          problem: `cannot reach the git origin ${host} (${answer.error})`,
          fix: 'check repository.cloneUrl and the network path from the worker to it',
        };
  }
  switch (answer.status) {
    case 200:
      return undefined;
    case 401:
      return {
        problem: `the git origin ${host} refused GITHUB_TOKEN (HTTP 401)`,
        fix: 'the token must also work for git over HTTPS: check that it belongs to this GitHub (repository.cloneUrl) and has not expired',
      };
    case 403:
      return {
        problem: `GITHUB_TOKEN may read but not push to ${origin} (git-receive-pack answered HTTP 403)`,
        fix: readOnlyFix(kind),
      };
    case 404:
      return {
        problem: `no repository at ${origin}, or GITHUB_TOKEN may not see it (git answered HTTP 404)`,
        fix: 'check repository.cloneUrl (default https://github.com/<owner>/<name>.git) and that the token can access the repository',
      };
    default:
      return {
        problem: `the git origin ${host} answered HTTP ${answer.status} to the push check`,
        fix: 'check repository.cloneUrl: it must be the repository the worker clones and pushes to',
      };
  }
}

export interface PushCheckInput {
  octokit: Octokit;
  owner: string;
  repo: string;
  apiHost: string;
  cloneUrl: string;
  token: string;
  env: NodeJS.ProcessEnv;
  preflight: PreflightProblem[];
  identity: () => Promise<GitHubIdentity>;
}

/** The repository visible to the token, and a push it would be allowed (REST facts, then git itself). */
export async function checkPushAccess(input: PushCheckInput): Promise<Outcome> {
  const { octokit, owner, repo, apiHost, cloneUrl, token, env } = input;
  const refused = problemsFor(input.preflight, ['repository.cloneUrl']);
  if (refused) return refused;
  const repository = `${owner}/${repo}`;
  const { kind } = githubTokenKind(token);
  let facts: RepositoryFacts;
  try {
    const { data } = await octokit.rest.repos.get({ owner, repo });
    const { scopes } = await input.identity();
    facts = { kind, scopes, isPrivate: data.private, push: data.permissions?.push };
  } catch (err) {
    const failure = requestFailure('GitHub', apiHost, err, {
      subject: `repository ${repository}`,
      notFound: `GitHub at ${apiHost}: no repository ${repository}, or GITHUB_TOKEN may not see it (GitHub answers 404 for both)`,
    });
    const access =
      'check repository.owner and repository.name; a fine-grained token or the App installation must include the repository';
    return fail(problemOf(failure), fixFor(failure, 'github.apiUrl', { NotFound: access }, access));
  }
  const rest = restPushProblem(facts, repository);
  if (rest) return fail(rest.problem, rest.fix);

  const answer = await probeReceivePack(cloneUrl, token, env);
  if (answer.probed) {
    const git = receivePackProblem(answer, cloneUrl, kind);
    if (git) return fail(git.problem, git.fix);
    return pass(`${repository}: the token may push (git at ${new URL(cloneUrl).host} accepts it for a push)`);
  }
  // Without the probe only a classic token's scopes and role say enough.
  if (kind === 'classic' || kind === 'oauth')
    return pass(`${repository}: the token may push (repo scope, permissions.push)`, [`git not probed: ${answer.why}`]);
  return warn(
    `${repository} readable; push access not confirmed: ${answer.why}`,
    'the first deploy proves it; the token needs contents: write on the repository',
  );
}
