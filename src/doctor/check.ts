/** The checks `deployctl doctor` runs, in this order. */
export const CHECK_IDS = [
  'config',
  'temporal',
  'search-attributes',
  'github-token',
  'github-rate-limit',
  'github-push',
  'ci-workflow',
  'registry',
  'argocd-token',
  'argocd-application',
  'argocd-previews',
  'overlay',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

/** `skip`: not run, because a check it needs did not pass. */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** What one check found. */
export interface Outcome {
  status: Exclude<CheckStatus, 'skip'>;
  /** One line: what was found, or what is wrong. */
  summary: string;
  /** Further lines: one per image, per warning. */
  details: string[];
  /** For a failure or a warning: what to do, in one or two lines. */
  fix?: string;
}

export const pass = (summary: string, details: string[] = []): Outcome => ({ status: 'pass', summary, details });
export const warn = (summary: string, fix: string, details: string[] = []): Outcome => ({
  status: 'warn',
  summary,
  details,
  fix,
});
export const fail = (summary: string, fix: string, details: string[] = []): Outcome => ({
  status: 'fail',
  summary,
  details,
  fix,
});

/** One check's line in the report. */
export interface CheckReport extends Omit<Outcome, 'status'> {
  id: CheckId;
  title: string;
  status: CheckStatus;
  durationMs: number;
}

export interface DoctorReport {
  /** Every check passed (warnings allowed): exit code 0. */
  ok: boolean;
  configPath: string;
  checks: CheckReport[];
}
