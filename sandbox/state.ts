// What the running sandbox tells its clients (sandbox:merge, the test): written once it is ready,
// removed when it stops, so a stale file never points at a dead sandbox for long.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..');

export type ChangeKind = 'code' | 'k8s' | 'docs';

export interface SandboxState {
  pid: number;
  controlUrl: string;
  relayUrl: string;
  /** Absent when the dev server runs headless. */
  uiUrl?: string;
  temporalAddress: string;
  namespace: string;
  repository: string;
  configPath: string;
  /** The bare repo standing in for GitHub's copy of the repository. */
  originDir: string;
}

export interface MergeRequest {
  kind: ChangeKind;
  /** Push to pull request N's branch (opening the PR the first time) instead of merging to main. */
  pr?: number;
  failCi?: boolean;
  ciSeconds?: number;
}

export interface MergeResult {
  kind: ChangeKind;
  /** For a push to a pull request: its number and branch. */
  pr?: number;
  branch?: string;
  sha: string;
  before: string;
  subject: string;
  files: string[];
  workflowId: string;
  /** The relay's answer to the signed push delivery (pull_request opened/synchronize for a PR). */
  push: { status: number; body: Record<string, unknown> };
  ci?: { runId: number; conclusion: 'success' | 'failure'; seconds: number; tag: string };
}

/** SANDBOX_DATA_DIR, else .data/sandbox: holds the SQLite file, the origin, the config. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.SANDBOX_DATA_DIR ?? join(ROOT, '.data/sandbox'));
}

export const statePath = (dir = dataDir()) => join(dir, 'sandbox.json');

export function readState(dir = dataDir()): SandboxState | undefined {
  const file = statePath(dir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as SandboxState) : undefined;
}
