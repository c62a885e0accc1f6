import type { CheckReport, CheckStatus, DoctorReport } from './check';
import { TITLES } from './checks';

const MARK: Record<CheckStatus, string> = { pass: '✔', warn: '⚠', fail: '✖', skip: '–' };
/** The summary column starts after the longest title. */
const WIDTH = Math.max(...Object.values(TITLES).map((t) => t.length)) + 2;
const INDENT = ' '.repeat(WIDTH + 2);

/** One check as a person reads it: mark, title, what was found; then details, and the fix for a failure or warning. */
export function formatCheck(report: CheckReport): string {
  const slow = report.durationMs >= 1_000 ? ` (${(report.durationMs / 1_000).toFixed(1)}s)` : '';
  const fix = report.fix?.split('\n') ?? [];
  return [
    `${MARK[report.status]} ${report.title.padEnd(WIDTH)}${report.summary}${slow}`,
    ...report.details.map((line) => `${INDENT}${line}`),
    ...fix.map((line, i) => `${INDENT}${i === 0 ? 'fix: ' : '     '}${line}`),
  ].join('\n');
}

const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The closing line: how many failed, warned, were skipped; and the exit code it means. */
export function formatSummary(report: DoctorReport): string {
  const by = (status: CheckStatus) => report.checks.filter((c) => c.status === status).length;
  const [failed, warned, skipped, passed] = [by('fail'), by('warn'), by('skip'), by('pass')];
  if (report.ok)
    return `doctor: all ${count(report.checks.length, 'check')} passed${warned ? ` (${count(warned, 'warning')})` : ''}`;
  const parts = [
    count(failed, 'problem'),
    ...(warned ? [count(warned, 'warning')] : []),
    `${passed} passed`,
    ...(skipped ? [`${skipped} skipped`] : []),
  ];
  return `doctor: ${parts.join(', ')}`;
}

/** The report as a script reads it (`--json`). */
export function doctorJson(report: DoctorReport): string {
  return JSON.stringify(report, null, 2);
}
