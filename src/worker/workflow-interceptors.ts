/**
 * Runs in the workflow sandbox (a workflow interceptor module, bundled with the workflows): Temporal's
 * OpenTelemetry workflow interceptors, behind a patch.
 *
 * Why the patch: the interceptors wrap each outbound call (a signal, an activity, a child start) in
 * a span and resolve its promise a few microtasks later, which can reorder the commands that follow
 * (an update's completion before a signal), so a history recorded without them fails to replay with
 * them. `patched()` is false while replaying such a history and true for everything recorded since,
 * so in-flight environments and deploys go on untouched and new runs are traced.
 */
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import { patched, type WorkflowInterceptors } from '@temporalio/workflow';

export const TRACING_PATCH = 'gitops-deployer-otel-workflow-interceptors';

export const interceptors = (): WorkflowInterceptors => {
  const inbound = new OpenTelemetryInboundInterceptor();
  const outbound = new OpenTelemetryOutboundInterceptor();
  const internals = new OpenTelemetryInternalsInterceptor();
  // Asked where commands may be issued (patched() records a marker); queries and update validators
  // are read-only, so they follow the last answer.
  let traced = false;
  const traces = () => (traced = patched(TRACING_PATCH));
  return {
    inbound: [
      {
        execute: (input, next) => (traces() ? inbound.execute(input, next) : next(input)),
        handleSignal: (input, next) => (traces() ? inbound.handleSignal(input, next) : next(input)),
        handleUpdate: (input, next) => (traces() ? inbound.handleUpdate(input, next) : next(input)),
        validateUpdate: (input, next) => (traced ? inbound.validateUpdate(input, next) : next(input)),
        handleQuery: (input, next) => (traced ? inbound.handleQuery(input, next) : next(input)),
      },
    ],
    outbound: [
      {
        scheduleActivity: (input, next) => (traces() ? outbound.scheduleActivity(input, next) : next(input)),
        scheduleLocalActivity: (input, next) => (traces() ? outbound.scheduleLocalActivity(input, next) : next(input)),
        startChildWorkflowExecution: (input, next) =>
          traces() ? outbound.startChildWorkflowExecution(input, next) : next(input),
        continueAsNew: (input, next) => (traces() ? outbound.continueAsNew(input, next) : next(input)),
        signalWorkflow: (input, next) => (traces() ? outbound.signalWorkflow(input, next) : next(input)),
        startNexusOperation: (input, next) => (traces() ? outbound.startNexusOperation(input, next) : next(input)),
        getLogAttributes: (input, next) => (traced ? outbound.getLogAttributes(input, next) : next(input)),
        getMetricTags: (input, next) => next(input),
      },
    ],
    internals: [{ dispose: (input, next) => internals.dispose(input, next) }],
  };
};
