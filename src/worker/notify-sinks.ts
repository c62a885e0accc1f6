import type { NotifyDeps } from '../activities/notify';
import { notifyUrlVariable, type DeployConfig } from '../config/schema';

/**
 * The notification sinks the config names, each with its URL from the worker's environment
 * (NOTIFY_<NAME>_URL): a secret, so it never passes through the config file, a workflow's input or
 * its history. An unset one is undefined here: preflight stops the worker before, and the step
 * refuses it for good, naming the variable.
 */
export function notifySinks(config: Pick<DeployConfig, 'notifications'>, env: NodeJS.ProcessEnv): NotifyDeps['sinks'] {
  return Object.fromEntries(
    config.notifications.map(({ name, format }) => [
      name,
      { format, url: env[notifyUrlVariable(name)]?.trim() || undefined },
    ]),
  );
}
