import { userInfo } from 'node:os';
import type { DeployConfig } from '../../config/schema';
import type { Connected, ConnectionFlags } from '../connect';

/** Exit codes: 0 success, 1 the deploy (or the request) failed, 2 usage or configuration error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export interface GlobalOptions extends ConnectionFlags {
  config?: string;
  json?: boolean;
}

/** What every command needs from the program: options, configuration, a client, output, an exit code. */
export interface CommandContext {
  globals(): GlobalOptions;
  config(): DeployConfig;
  withClient<T>(cfg: DeployConfig, fn: (temporal: Connected) => Promise<T>): Promise<T>;
  write(text: string): void;
  /** Tables and short lines for people, JSON for scripts. */
  show(json: unknown, human: () => string): void;
  setExitCode(code: number): void;
}

/** The person at the keyboard, for `--by` defaults: $USER, else the OS account. */
export function currentUser(): string {
  if (process.env.USER?.trim()) return process.env.USER.trim();
  try {
    return userInfo().username;
  } catch {
    return 'unknown'; // no passwd entry (some containers)
  }
}
