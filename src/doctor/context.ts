import type { Connection } from '@temporalio/client';
import type { ActivityDeps } from '../activities';
import type { PreflightProblem } from '../config/preflight';
import type { DeployConfig } from '../config/schema';
import type { TemporalTarget } from '../temporal/connection';
import type { CheckId } from './check';

/**
 * What the checks share once the configuration has loaded: the worker's own clients (createDeps),
 * the environment they read their secrets from, and reads more than one check needs, each made once.
 */
export interface DoctorContext {
  config: DeployConfig;
  env: NodeJS.ProcessEnv;
  deps: ActivityDeps;
  temporalTarget: TemporalTarget;
  /** The worker's start checks (src/config/preflight.ts), for the checks they concern. */
  preflight: PreflightProblem[];
  now(): number;
  /** Whether a check earlier in the order passed (or warned). */
  passed(id: CheckId): boolean;
  /** Connected to Temporal (once); closed by the runner. */
  temporal(): Promise<Connection>;
  /** GitHub's answer to the token (GET /rate_limit, once). */
  github(): Promise<GitHubIdentity>;
  /** The production overlay at main's head (once). */
  overlay(): Promise<OverlayAtMain>;
}

export interface RateLimit {
  limit: number;
  remaining: number;
  /** When the window resets, in ms since the epoch. */
  resetAt: number;
}

export interface GitHubIdentity {
  /** X-OAuth-Scopes: a classic or OAuth token's scopes; undefined when GitHub sent none (fine-grained and App tokens). */
  scopes?: string[];
  core: RateLimit;
}

export interface OverlayAtMain {
  /** main's head commit. */
  commit: string;
  text: string;
}

/** A promise made on first use and shared after: one request however many checks ask. */
export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}
