import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';

export { innermostMessage } from '../contract/failure';

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
