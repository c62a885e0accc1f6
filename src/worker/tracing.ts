import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  type OpenTelemetryWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import { tracingClientInterceptors, type Tracing } from '../observe/tracing';

/**
 * The workflow-side interceptors (OpenTelemetry's, behind a patch: see workflow-interceptors.ts), in
 * every bundle whether tracing is on or not: workflow code must not depend on an environment
 * variable, so one prebuilt bundle serves both and a history recorded with tracing off replays with
 * it on. With tracing off their spans go to a sink that drops them.
 */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('./workflow-interceptors')];

export type TracingSinks = InjectedSinks<{ exporter: OpenTelemetryWorkflowExporter }>;

const DROP_SPANS: TracingSinks = { exporter: { export: { fn: () => undefined, callDuringReplay: false } } };

/** Activity spans (children of the workflow's `StartActivity` span) and the workflow sandbox's span sink. */
export function workerTracing(tracing: Tracing | undefined): {
  interceptors: Omit<WorkerInterceptors, 'workflowModules'>;
  sinks: TracingSinks;
} {
  if (!tracing) return { interceptors: {}, sinks: DROP_SPANS };
  const options = { tracer: tracing.tracer };
  return {
    interceptors: {
      client: tracingClientInterceptors(tracing),
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx, options),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    // Replayed workflow tasks re-create spans already exported; the SDK's sink skips them (callDuringReplay false).
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
