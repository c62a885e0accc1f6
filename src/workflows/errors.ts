import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';

/** The innermost cause's message: an activity failure wraps the step's own error. */
export function innermostMessage(err: unknown): string {
  let current = err as { message?: string; cause?: unknown } | undefined;
  while (current?.cause) current = current.cause as typeof current;
  return current?.message ?? String(err);
}

/**
 * Whether a probe's failure is permanent (the step said retrying cannot help: a refused token, a
 * missing application) rather than "no answer now" (a timeout, a 5xx, a lost worker), which a
 * wait loop treats as one more poll without news.
 */
export function isPermanentFailure(err: unknown): boolean {
  if (!(err instanceof ActivityFailure)) return true;
  return (
    err.retryState === RetryState.NON_RETRYABLE_FAILURE ||
    (err.cause instanceof ApplicationFailure && err.cause.nonRetryable === true)
  );
}
