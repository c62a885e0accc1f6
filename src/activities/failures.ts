import { ApplicationFailure } from '@temporalio/common';

/** An error from an HTTP client (Octokit) that carries the response's status. */
export interface HttpError {
  status: number;
  message: string;
  response?: { headers?: Record<string, string | undefined> };
}

export function isHttpError(err: unknown): err is HttpError {
  return typeof (err as HttpError)?.status === 'number';
}

/**
 * Maps an HTTP status from an upstream service to a Temporal failure: auth and not-found are
 * permanent (retrying cannot fix a token or a missing image), 429 retries after Retry-After,
 * everything else (5xx, network) is thrown as-is and retried by the activity's retry policy.
 */
export function httpFailure(service: string, status: number, message: string, retryAfter?: string | null): Error {
  if (status === 401 || status === 403) {
    return ApplicationFailure.nonRetryable(`${service} refused the credentials (HTTP ${status}): ${message}`, 'Unauthorized');
  }
  if (status === 404) return ApplicationFailure.nonRetryable(`${service}: ${message}`, 'NotFound');
  if (status === 429) {
    return ApplicationFailure.create({ message: `${service} rate limit (HTTP 429): ${message}`, type: 'RateLimited', nextRetryDelay: retryAfterMs(retryAfter) });
  }
  if (status >= 400 && status < 500) return ApplicationFailure.nonRetryable(`${service} rejected the request (HTTP ${status}): ${message}`, 'BadRequest');
  return new Error(`${service} failed (HTTP ${status}): ${message}`);
}

/** Retry-After is either seconds or an HTTP date; an unusable value leaves the retry policy in charge. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.max(1_000, seconds * 1_000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(1_000, date - now);
}

/** A permanent problem with the request or the repository that a person must fix. */
export function permanent(message: string, type = 'DeployStepFailed'): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}
