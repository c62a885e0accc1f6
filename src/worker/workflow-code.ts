import type { Logger } from '@temporalio/common';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from './tracing';

/** The workflows the worker registers (dist/workflows or, under ts-jest, src/workflows). */
export const WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * webpack's statistics (20 lines at every start) and "bundle created" are INFO; problems are WARN and
 * ERROR and still reach the log.
 */
function quiet(logger: Logger): Logger {
  const drop = () => undefined;
  return {
    log: (level, message, meta) => (level === 'WARN' || level === 'ERROR' ? logger.log(level, message, meta) : drop()),
    trace: drop,
    debug: drop,
    info: drop,
    warn: (message, meta) => logger.warn(message, meta),
    error: (message, meta) => logger.error(message, meta),
  };
}

/** The same bundle the worker builds at start: its workflows and workflow interceptors, webpack kept quiet. */
export function bundleWorkflows(logger: Logger): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: quiet(logger),
  });
}
