import { z } from 'zod';
import { commentOrder, isPreviewComment } from '../plan/preview-comment';
import { requestFailure } from './failures';
import type { GitHubDeps } from './github';
import { checkInput, prNumber } from './input';
import { stepLog } from './log';

export interface PreviewCommentInput {
  pr: number;
  /** The whole body, marker included (plan/preview-comment.ts). */
  body: string;
  /** The writer's order key: a comment whose marker names a newer one is left alone. */
  order: string;
}

export interface PreviewCommentResult {
  commentId?: number;
  outcome: 'created' | 'edited' | 'unchanged' | 'stale';
}

/** GitHub's limit on a comment's body. */
const BODY_LIMIT = 65_536;
const commentInput = z.object({
  pr: prNumber,
  // Without the marker the next write would not find this comment and would add a second one.
  body: z.string().max(BODY_LIMIT).refine(isPreviewComment, 'expected a body starting with the preview marker'),
  order: z.string().min(1),
});

/** GitHub keeps a body as sent, but an edit in the web UI turns its line ends into CRLF. */
const sameText = (a: string, b: string) => a.replace(/\r\n/g, '\n') === b.replace(/\r\n/g, '\n');

/** The one preview comment on a pull request. */
export function commentSteps({ octokit, owner, repo, apiHost: host }: GitHubDeps) {
  const failure =
    (pr: number) =>
    (err: unknown): never => {
      throw requestFailure('GitHub', host, err, {
        subject: `the comments of pull request #${pr} of ${owner}/${repo}`,
        notFound: `pull request #${pr} not found in ${owner}/${repo} (or GITHUB_TOKEN cannot see the repository: GitHub answers 404 to a token that cannot)`,
      });
    };

  /** Step `preview-comment`: find the comment by its hidden marker, edit it in place, or create it. */
  async function upsertPreviewComment(raw: PreviewCommentInput): Promise<PreviewCommentResult> {
    const { pr, body, order } = checkInput(commentInput, raw, 'preview-comment');
    const comments = await octokit
      .paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: pr, per_page: 100 })
      .catch(failure(pr));
    // The oldest marked comment is the one: should two writers ever have raced to create it, every later write converges on it.
    const found = comments.find((c) => isPreviewComment(c.body));
    if (!found) {
      const { data } = await octokit.rest.issues
        .createComment({ owner, repo, issue_number: pr, body })
        .catch(failure(pr));
      stepLog.info(`preview comment ${data.id} created on pull request #${pr}`, { pr, commentId: data.id, order });
      return { commentId: data.id, outcome: 'created' };
    }
    const shown = commentOrder(found.body);
    // ISO times compare as strings: a newer push's deploy wrote last, and its word stands.
    if (shown !== undefined && shown > order) {
      stepLog.info(`preview comment ${found.id} on pull request #${pr} holds a newer write (${shown}): left alone`, {
        pr,
        commentId: found.id,
        order,
        shown,
      });
      return { commentId: found.id, outcome: 'stale' };
    }
    if (sameText(found.body ?? '', body)) return { commentId: found.id, outcome: 'unchanged' };
    await octokit.rest.issues.updateComment({ owner, repo, comment_id: found.id, body }).catch(failure(pr));
    stepLog.info(`preview comment ${found.id} on pull request #${pr} edited`, { pr, commentId: found.id, order });
    return { commentId: found.id, outcome: 'edited' };
  }
  return { upsertPreviewComment };
}
