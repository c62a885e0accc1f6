import picomatch from 'picomatch';

/** One entry of a diff; a rename or copy names the old path too, since leaving a path is a change to it. */
export interface ChangedFile {
  path: string;
  previousPath?: string;
}

export type DeployPath = 'code' | 'k8s' | 'none';
export type FileCategory = 'ignored' | 'code' | 'k8s' | 'infra' | 'other';

/** The globs of each category (the configuration's changeRules fit this shape). */
export type ChangeRules = Record<Exclude<FileCategory, 'other'>, string[]>;

export interface Classification {
  /** `code`: Path 1 (wait for CI, deploy sha-<commit>); `k8s`: Path 2 (redeploy the running tag); `none`: nothing. */
  path: DeployPath;
  reason: string;
  /** Images the deploy validates and sets (CI builds all of them for every code change). */
  images: string[];
  files: Record<FileCategory, string[]>;
}

/** Checked in this order: an explicitly ignored file (a README inside services/) never deploys. */
const ORDER: readonly Exclude<FileCategory, 'other'>[] = ['ignored', 'code', 'k8s', 'infra'];

export type Matchers = Record<Exclude<FileCategory, 'other'>, (path: string) => boolean>;

export function compileRules(rules: ChangeRules): Matchers {
  const compile = (globs: string[]) => picomatch(globs, { dot: true });
  return {
    ignored: compile(rules.ignored),
    code: compile(rules.code),
    k8s: compile(rules.k8s),
    infra: compile(rules.infra),
  };
}

export function categorize(path: string, matchers: Matchers): FileCategory {
  return ORDER.find((category) => matchers[category](path)) ?? 'other';
}

function summary(label: string, paths: string[]): string {
  const shown = paths.slice(0, 3).join(', ');
  return paths.length > 3 ? `${label}: ${shown} (+${paths.length - 3} more)` : `${label}: ${shown}`;
}

/** Decides what a change deploys. Pure: the same files and rules always give the same answer. */
export function classifyChanges(
  changes: ChangedFile[],
  rules: ChangeRules | Matchers,
  imageNames: string[],
): Classification {
  const matchers =
    typeof (rules as Matchers).code === 'function' ? (rules as Matchers) : compileRules(rules as ChangeRules);
  const files: Record<FileCategory, string[]> = { ignored: [], code: [], k8s: [], infra: [], other: [] };
  const paths = new Set(changes.flatMap((c) => (c.previousPath ? [c.previousPath, c.path] : [c.path])));
  for (const path of [...paths].sort()) files[categorize(path, matchers)].push(path);

  if (files.code.length)
    return { path: 'code', reason: summary('code changed', files.code), images: [...imageNames], files };
  if (files.k8s.length)
    return { path: 'k8s', reason: summary('k8s-only change', files.k8s), images: [...imageNames], files };
  return { path: 'none', reason: files.infra.length ? 'infra only' : 'skipped', images: [], files };
}
