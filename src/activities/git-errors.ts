import { permanent } from './failures';
import { withoutSecrets } from './faults';

// What a failed git command means, read from its stderr (simple-git's GitError message), in the
// style of Kargo's git predicates. git's wording is stable across versions and hosts: these are
// the messages of git itself, of git-http-backend and receive-pack, and of GitHub's front end.

/** The text git printed, with CRs and colour codes gone (GitHub colours some `remote:` lines). */
function gitText(err: unknown): string {
  const text = typeof err === 'string' ? err : String((err as Error)?.message ?? err);
  // eslint-disable-next-line no-control-regex -- colour codes start with ESC
  return text.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r\n?/g, '\n');
}

const lines = (err: unknown) =>
  gitText(err)
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
/** git's own lines: not what the server's hooks said (`remote:`), and not git's advice (`hint:`). */
const ownLines = (err: unknown) => lines(err).filter((line) => !/^(remote|hint):/i.test(line));
/** A ref's status line of a push, e.g. ` ! [remote rejected] HEAD -> main (pre-receive hook declined)`. */
const statusLines = (err: unknown) => ownLines(err).filter((line) => /^!\s*\[(remote )?rejected\]/.test(line));

/** The client saw the branch move (non-fast-forward, a lease that no longer holds); the server lost a ref update race. */
const RACE_STATUS =
  /\[rejected\].*\((non-fast-forward|fetch first|stale info)\)|\[remote rejected\].*\((failed to update ref|cannot lock ref|failed to lock|incorrect old value)/;
const RACE_TEXT = /non-fast-forward|fetch first|stale info|cannot lock ref|failed to update ref/;

/**
 * A push that lost a race with another push: the branch moved before it (non-fast-forward, fetch
 * first, a stale lease) or during it (the server's compare-and-swap of the ref failed). Fetching
 * and deciding again on the new tip fixes it. A `[remote rejected] (non-fast-forward)` is the
 * server's policy (receive.denyNonFastForwards), not a race, and what hooks print is not read.
 */
export function isLostPushRace(err: unknown): boolean {
  const status = statusLines(err);
  if (status.length > 0) return status.every((line) => RACE_STATUS.test(line));
  return ownLines(err).some((line) => RACE_TEXT.test(line));
}

const AUTH = [
  /could not read (Username|Password)/i,
  /Authentication failed/i,
  /terminal prompts disabled/i,
  /Invalid username or password/i,
  /The requested URL returned error: 40[13]\b/,
  /\bHTTP 40[13]\b/,
  // GitHub, for a token without write access: "remote: Permission to o/r.git denied to bot." and 403.
  /Permission to \S+ denied to/i,
  /Write access to repository not granted/i,
];

/** The origin did not accept the credentials (none, wrong, expired, or without the permission needed). */
export function isAuthFailure(err: unknown): boolean {
  const text = gitText(err);
  return AUTH.some((pattern) => pattern.test(text));
}

/**
 * The server refused the push by policy: a pre-receive hook, GitHub's branch protection (GH006)
 * or rulesets (GH013), or any other `[remote rejected]` that is not a lost ref-update race.
 */
export function isRefusedByServer(err: unknown): boolean {
  if (/pre-receive hook declined|hook declined|\bGH006\b|\bGH013\b|protected branch/i.test(gitText(err))) return true;
  return statusLines(err).some((line) => /\[remote rejected\]/.test(line) && !RACE_STATUS.test(line));
}

/**
 * The ref asked for does not exist on the origin (a deleted branch, a ref already deleted), or the
 * SHA asked for is not one it serves (unknown, or unreachable from its refs).
 */
export function isMissingRef(err: unknown): boolean {
  return /couldn't find remote ref|not our ref|no such ref|remote ref does not exist|unadvertised object/i.test(
    gitText(err),
  );
}

/** The repository itself is not there, or is invisible to the token (GitHub answers 404 for both). */
export function isMissingRepository(err: unknown): boolean {
  return /Repository not found|repository '[^']*' not found/i.test(gitText(err));
}

/** git's words (or a URL) as messages may show them: no user:password@ in URLs, no token the server echoed. */
export function withoutCredentials(text: string): string {
  return withoutSecrets(text);
}

/** git does not trust the origin's certificate (a private CA it was not given, or the wrong host). */
export function isUntrustedCertificate(err: unknown): boolean {
  return /SSL certificate problem|server certificate verification failed|certificate verify failed|unable to get local issuer certificate|self.signed certificate/i.test(
    gitText(err),
  );
}

/** What the server said: its `remote:` lines, then the push's status line of each rejected ref. */
export function serverMessage(err: unknown): string {
  const said = lines(err)
    .filter((line) => /^remote:/i.test(line))
    .map((line) => line.replace(/^remote:\s*/i, ''))
    .filter(Boolean);
  const text = [...said, ...statusLines(err).map((line) => line.replace(/^!\s*/, '').replace(/\s+/g, ' '))].join('\n');
  return withoutCredentials(text.length > 2000 ? `${text.slice(0, 2000)}…` : text);
}

/** The line that says why git stopped: its last `fatal:` or `error:` line, else its last line. */
function reason(err: unknown): string {
  const own = ownLines(err);
  const fatal = [...own].reverse().find((line) => /^(fatal|error):/i.test(line)) ?? own.at(-1) ?? 'git failed';
  return withoutCredentials(fatal);
}

export interface GitContext {
  /** The origin's URL (credentials are stripped before it is shown). */
  origin: string;
  /** The branch fetched or pushed, if one. */
  branch?: string;
  action: 'clone' | 'fetch' | 'push';
}

function doing({ origin, branch, action }: GitContext): string {
  const url = withoutCredentials(origin);
  switch (action) {
    case 'clone':
      return `git clone of ${url}`;
    case 'fetch':
      return branch ? `git fetch of ${branch} from ${url}` : `git fetch from ${url}`;
    case 'push':
      return branch ? `git push to ${branch} of ${url}` : `git push to ${url}`;
  }
}

/**
 * Throws what a failed git command means for the step: a permanent failure when retrying cannot
 * help (the token, the server's policy, a missing repository or branch) with plain advice, else
 * the error itself (network, 5xx, a lock race), for the activity's retry policy. Messages never
 * carry credentials from URLs.
 */
export function gitFailure(err: unknown, context: GitContext): never {
  const what = doing(context);
  // First: a hook's words (remote: lines) may say anything, even "authentication failed".
  if (isRefusedByServer(err)) {
    throw permanent(
      `the origin refused the push: ${what} was declined by the server. It said:\n${serverMessage(err) || reason(err)}\nA server-side hook or branch protection rejects the deployer's commit; let the deployer's token push to ${context.branch ?? 'the branch'} (a bypass in the branch protection or ruleset) or fix what the server reports`,
      'PushRefused',
    );
  }
  if (isAuthFailure(err)) {
    const said = serverMessage(err);
    throw permanent(
      `the origin refused the token: ${what} failed (${said ? `${said.replace(/\n/g, ' ').replace(/\.$/, '')}; ` : ''}${reason(err)}). Check that GITHUB_TOKEN is set in the worker's environment, is not expired, and has contents: write on the repository`,
      'GitAuthFailed',
    );
  }
  if (isUntrustedCertificate(err)) {
    throw permanent(
      `${what} failed: git does not trust the origin's TLS certificate (${reason(err)}). Give the worker the CA that signed it: GIT_SSL_CAINFO=<bundle> in its environment`,
      'TlsUntrusted',
    );
  }
  if (isMissingRepository(err)) {
    throw permanent(
      `${what} failed: the repository does not exist or GITHUB_TOKEN cannot read it; check repository.cloneUrl and the token's access (${reason(err)})`,
      'RepositoryNotFound',
    );
  }
  if (context.action === 'fetch' && context.branch && isMissingRef(err)) {
    throw permanent(
      `branch ${context.branch} no longer exists in ${withoutCredentials(context.origin)}`,
      'BranchNotFound',
    );
  }
  throw retryable(err);
}

/** The error for a retry, its message without credentials (no `cause`: it would carry the original into history). */
function retryable(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const clean = withoutCredentials(err.message);
  return clean === err.message ? err : Object.assign(new Error(clean), { name: err.name });
}
