import type { PreflightProblem } from '../config/preflight';
import { fail, type Outcome } from './check';

/** The words of a failure: the fault table's message (what a deploy would say), or the error's own. */
export function problemOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.trim() || (err as Error)?.name || 'failed without a message';
}

const concerns = (problem: PreflightProblem, subjects: string[]) =>
  subjects.some((s) => problem.subject === s || problem.subject.startsWith(`${s}.`));

/** A failure made of the start checks' errors about these settings, or undefined when there are none. */
export function problemsFor(preflight: PreflightProblem[], subjects: string[]): Outcome | undefined {
  const [first, ...more] = preflight.filter((p) => p.severity === 'error' && concerns(p, subjects));
  if (!first) return undefined;
  return fail(
    first.problem,
    first.fix,
    more.map((p) => `also: ${p.problem} (fix: ${p.fix})`),
  );
}

/** The start checks' warnings about these settings. */
export function warningsFor(preflight: PreflightProblem[], subjects: string[]): PreflightProblem[] {
  return preflight.filter((p) => p.severity === 'warning' && concerns(p, subjects));
}

/** The fault table's type of a failure (ApplicationFailure.type), or the error class for the retryable ones. */
export function faultType(err: unknown): string {
  return (err as { type?: string }).type ?? (err as Error)?.name ?? 'Error';
}

/**
 * The fix for a failed request: the caller's for the answers it knows (`Unauthorized`, `NotFound`…),
 * else the network's, naming the setting that points at the service.
 */
export function fixFor(err: unknown, setting: string, fixes: Record<string, string>, fallback: string): string {
  const type = faultType(err);
  if (fixes[type]) return fixes[type]!;
  if (type === 'TlsUntrusted')
    return "give the worker the CA that signed the server's certificate: NODE_EXTRA_CA_CERTS=ca.pem";
  if (type === 'Timeout' || type === 'Unreachable' || type === 'Unavailable')
    return `check ${setting} and the network path from the worker to it`;
  return fallback;
}
