/** What the deployer needs to know about one CI workflow run. */
export interface CiRun {
  id: number;
  status: string;
  /** null while the run is not completed. */
  conclusion: string | null;
  url: string;
  headSha: string;
  attempt?: number;
}

export type CiOutcome = 'pending' | 'success' | 'failure';

/** `success` is the only conclusion that proves the images were pushed; `skipped` and `neutral` do not. */
export function ciOutcome(run: CiRun | null | undefined): CiOutcome {
  if (!run || run.status !== 'completed') return 'pending';
  return run.conclusion === 'success' ? 'success' : 'failure';
}

/** Poll delays grow from `initial` to `max` by doubling (15 s, 30 s, 1 min, 2 min, 2 min, …). */
export function pollDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
}
