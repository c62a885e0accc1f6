// The pull request half of the GitHub stand-in: a PR's commits and its JSON, in GitHub's shapes,
// read from the bare origin repository (split out of github.ts, which serves the HTTP side).
import { git } from '../origin';

export interface Pull {
  owner: string;
  repo: string;
  number: number;
  headRef: string;
  baseRef: string;
  title: string;
  fork?: { fullName: string; headSha: string };
  id: number;
  nodeId: string;
  state: 'open' | 'closed';
  merged: boolean;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  mergedAt: string | null;
  headSha: string;
  baseSha: string; // as last read from git; frozen once closed
}

export type PullRequest = Record<string, any> & {
  number: number;
  state: 'open' | 'closed';
  merged: boolean;
  commits: number;
  head: Record<string, any> & { label: string; ref: string; sha: string };
  base: Record<string, any> & { label: string; ref: string; sha: string };
};

/** What the renderers need from the stand-in. */
export interface PullContext {
  url: string;
  origin(): string;
  actor: Record<string, any> & { login: string; id: number };
  repoJson(owner: string, repo: string): Record<string, any>;
  headRepo(pr: Pull): Record<string, any>;
  refresh(pr: Pull): Promise<void>;
}

// GitHub timestamps are ISO-8601 at second precision.
export const ts = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

// The PR's commits as `git log --reverse merge-base..head`, oldest first, in GitHub's commit shape.
export async function pullCommits(ctx: PullContext, pr: Pull) {
  const { url, actor, origin } = ctx;
  let out: string;
  try {
    const base = (await git(origin(), ['merge-base', pr.baseSha, pr.headSha])).trim();
    out = await git(origin(), [
      'log',
      '-z',
      '--reverse',
      '--format=%H%x1f%T%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B',
      `${base}..${pr.headSha}`,
    ]);
  } catch (err) {
    if (pr.fork) return []; // the fork's commits never reached this repository
    throw err;
  }
  const api = `${url}/repos/${pr.owner}/${pr.repo}`;
  const web = `https://github.com/${pr.owner}/${pr.repo}`;
  // GitHub links a commit to an account by email; only noreply addresses are unambiguous here.
  const user = (email: string) => {
    const m = /^(?:(\d+)\+)?([^@]+)@users\.noreply\.github\.com$/.exec(email);
    return m ? { ...actor, login: m[2], id: Number(m[1] ?? 1) } : null;
  };
  return out
    .split('\0')
    .filter(Boolean)
    .map((rec) => {
      const [sha, tree, parents, an, ae, ad, cn, ce, cd, message] = rec.split('\x1f');
      return {
        sha,
        node_id: `C_kwDO${Buffer.from(sha.slice(0, 24), 'hex').toString('base64url')}`,
        commit: {
          author: { name: an, email: ae, date: ts(new Date(ad)) },
          committer: { name: cn, email: ce, date: ts(new Date(cd)) },
          message: message.replace(/\n+$/, ''),
          tree: { sha: tree, url: `${api}/git/trees/${tree}` },
          url: `${api}/git/commits/${sha}`,
          comment_count: 0,
          verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
        },
        url: `${api}/commits/${sha}`,
        html_url: `${web}/commit/${sha}`,
        comments_url: `${api}/commits/${sha}/comments`,
        author: user(ae),
        committer: user(ce),
        parents: parents
          .split(' ')
          .filter(Boolean)
          .map((p) => ({ sha: p, url: `${api}/commits/${p}`, html_url: `${web}/commit/${p}` })),
      };
    });
}

/** The pull request object of `GET /repos/{o}/{r}/pulls/{n}`, its head and base read fresh from git. */
export async function pullJson(ctx: PullContext, pr: Pull): Promise<PullRequest> {
  const { url, actor } = ctx;
  await ctx.refresh(pr);
  const commits = (await pullCommits(ctx, pr)).length;
  const api = `${url}/repos/${pr.owner}/${pr.repo}`;
  const base = ctx.repoJson(pr.owner, pr.repo);
  const head = ctx.headRepo(pr);
  return {
    url: `${api}/pulls/${pr.number}`,
    id: pr.id,
    node_id: pr.nodeId,
    html_url: `${base.html_url}/pull/${pr.number}`,
    diff_url: `${base.html_url}/pull/${pr.number}.diff`,
    patch_url: `${base.html_url}/pull/${pr.number}.patch`,
    issue_url: `${api}/issues/${pr.number}`,
    commits_url: `${api}/pulls/${pr.number}/commits`,
    review_comments_url: `${api}/pulls/${pr.number}/comments`,
    comments_url: `${api}/issues/${pr.number}/comments`,
    statuses_url: `${api}/statuses/${pr.headSha}`,
    number: pr.number,
    state: pr.state,
    locked: false,
    title: pr.title,
    user: head.owner,
    body: null,
    labels: [],
    created_at: pr.createdAt,
    updated_at: pr.updatedAt,
    closed_at: pr.closedAt,
    merged_at: pr.mergedAt,
    merge_commit_sha: null,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    draft: false,
    head: {
      label: `${head.owner.login}:${pr.headRef}`,
      ref: pr.headRef,
      sha: pr.headSha,
      user: head.owner,
      repo: head,
    },
    base: { label: `${pr.owner}:${pr.baseRef}`, ref: pr.baseRef, sha: pr.baseSha, user: base.owner, repo: base },
    author_association: pr.fork ? 'CONTRIBUTOR' : 'MEMBER',
    auto_merge: null,
    active_lock_reason: null,
    merged: pr.merged,
    mergeable: null,
    rebaseable: null,
    mergeable_state: 'unknown',
    merged_by: pr.merged ? actor : null,
    comments: 0,
    review_comments: 0,
    maintainer_can_modify: false,
    commits,
  };
}
