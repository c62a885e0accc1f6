/**
 * A duration as a person reads it in a message: `500 ms`, `20 s`, `1 min 30 s`, `60 min`. Whole
 * seconds from 1 s on (rounded), minutes from 1 min on; no hours, so a configured `60m` reads back
 * as `60 min`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`not a duration: ${ms}`);
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1_000);
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  if (minutes === 0) return `${rest} s`;
  return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
}
