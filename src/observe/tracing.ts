import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResourcesSync, envDetectorSync, Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ClientInterceptors } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';

/** The process's tracing, when an OTLP endpoint is configured. */
export interface Tracing {
  serviceName: string;
  /** Where spans go, for the start line (no credentials: headers are never part of it). */
  endpoint: string;
  resource: Resource;
  /** Receives finished spans: the process's own and the workflow sandbox's (through the worker's sink). */
  spanProcessor: SpanProcessor;
  tracer: Tracer;
  /** Exports what is buffered, then stops; call once, on the way out. */
  shutdown(): Promise<void>;
}

/** The OTLP/HTTP endpoint the exporter will use, from the standard variables; undefined means tracing is off. */
export function otlpTracesEndpoint(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  // The exporter appends the signal path to the generic endpoint, as the specification says.
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}

/**
 * Tracing from the standard OpenTelemetry environment (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS,
 * OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), exported as OTLP/HTTP JSON, or undefined: no endpoint,
 * no tracing, and nothing of OpenTelemetry registered in the process.
 */
export function startTracing(defaultServiceName: string, env: NodeJS.ProcessEnv = process.env): Tracing | undefined {
  const endpoint = otlpTracesEndpoint(env);
  if (!endpoint) return undefined;
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || defaultServiceName;
  const resource = Resource.default()
    .merge(detectResourcesSync({ detectors: [envDetectorSync] }))
    .merge(new Resource({ 'service.name': serviceName }));
  // Headers (a vendor's API key) come from OTEL_EXPORTER_OTLP_[TRACES_]HEADERS, read by the exporter itself.
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // The interceptors read the global propagator and context: W3C trace context across headers, and
  // async-local context so a client call's span is the parent of the workflow it starts.
  provider.register({
    contextManager: new AsyncLocalStorageContextManager(),
    propagator: new W3CTraceContextPropagator(),
  });
  let stopped: Promise<void> | undefined;
  return {
    serviceName,
    endpoint,
    resource,
    spanProcessor,
    tracer: provider.getTracer('gitops-deployer'),
    shutdown: () =>
      (stopped ??= provider.shutdown().finally(() => {
        trace.disable();
        context.disable();
        propagation.disable();
      })),
  };
}

/**
 * Client interceptors for a Temporal Client (relay, deployctl): starts, signals, updates and queries
 * become spans whose context travels to the workflow in its headers. Empty when tracing is off.
 */
export function tracingClientInterceptors(tracing: Tracing | undefined): ClientInterceptors {
  return tracing ? { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] } : {};
}
