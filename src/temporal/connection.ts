import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Connection,
  defaultGrpcRetryOptions,
  isGrpcServiceError,
  makeGrpcRetryInterceptor,
  type ConnectionOptions,
} from '@temporalio/client';
import { NativeConnection, TransportError, type NativeConnectionOptions } from '@temporalio/worker';

/** Where and how to reach Temporal; flags win over TEMPORAL_* environment variables. */
export interface TemporalTarget {
  address: string;
  namespace: string;
  tlsCert?: string;
  tlsKey?: string;
  apiKey?: string;
}

export function temporalTarget(
  flags: Partial<TemporalTarget> = {},
  env: NodeJS.ProcessEnv = process.env,
  defaultNamespace = 'default',
): TemporalTarget {
  return {
    address: flags.address ?? env.TEMPORAL_ADDRESS ?? 'localhost:7233',
    namespace: flags.namespace ?? env.TEMPORAL_NAMESPACE ?? defaultNamespace,
    tlsCert: flags.tlsCert ?? env.TEMPORAL_TLS_CERT,
    tlsKey: flags.tlsKey ?? env.TEMPORAL_TLS_KEY,
    apiKey: flags.apiKey ?? env.TEMPORAL_API_KEY,
  };
}

/** Temporal did not answer at `address` within the connect timeout; the message says which setting to fix. */
export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
  constructor(
    readonly address: string,
    reason: string,
    withinMs: number,
  ) {
    super(
      `cannot reach Temporal at ${address} within ${Math.round(withinMs / 1000)}s (${reason}); set TEMPORAL_ADDRESS`,
    );
  }
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * For a client that must notice an outage and a recovery within a second or two (the relay answers
 * GitHub, which gives up after 10 s). grpc-js backs reconnects off up to 120 s by default, so after
 * a long outage the channel kept failing calls for many seconds after Temporal was back; here it
 * tries again every half second while down. DNS is re-resolved as often, for a moved server.
 */
export const FAST_RECOVERY_CHANNEL_ARGS = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 500,
  'grpc.dns_min_time_between_resolutions_ms': 1_000,
} as const;

/**
 * The SDK retries UNAVAILABLE up to 10 times, 5 s apart at most, past any deadline: a call to a
 * stopped server took 10 s to fail. Three attempts (about half a second) ride out a restart blip
 * and still fail fast.
 */
const failFastRetry = () => makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 3 }));

function tls(target: TemporalTarget): ConnectionOptions['tls'] {
  // Half a client certificate must not silently fall back to plaintext.
  if (Boolean(target.tlsCert) !== Boolean(target.tlsKey))
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together');
  if (target.tlsCert && target.tlsKey) {
    return { clientCertPair: { crt: readFileSync(target.tlsCert), key: readFileSync(target.tlsKey) } };
  }
  // Temporal Cloud API keys need TLS without a client certificate.
  return target.apiKey ? true : undefined;
}

/** The useful part of a connection error: `connect ECONNREFUSED 127.0.0.1:7299`, not the wrapping. */
export function connectionProblem(err: unknown): string {
  if (isGrpcServiceError(err) && err.code === 4 /* DEADLINE_EXCEEDED */) return 'no answer in time';
  const details = isGrpcServiceError(err) ? err.details : ((err as Error)?.message ?? String(err));
  const native = /ConnectError\("([^"]+)".*message: "([^"]+)"/.exec(details); // tonic's Debug output
  if (native) return `${native[1]}: ${native[2]}`;
  return (
    details
      .replace(/^No connection established\. Last error: (Error: )?/, '')
      .replace(/\.?\s*Resolution note:.*$/s, '') || 'no answer'
  );
}

/**
 * A client connection that fails fast and recovers fast (see above). Connecting asks the server
 * until `connectTimeoutMs` passes, so a process started a moment before Temporal still comes up,
 * and one pointed at the wrong address says so, naming it and the reason.
 */
export async function connectClient(
  target: TemporalTarget,
  connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
): Promise<Connection> {
  const connection = Connection.lazy({
    address: target.address,
    tls: tls(target),
    apiKey: target.apiKey,
    channelArgs: FAST_RECOVERY_CHANNEL_ARGS,
    interceptors: [failFastRetry()],
  });
  const deadline = Date.now() + connectTimeoutMs;
  let problem: string | undefined;
  for (;;) {
    try {
      await connection.withDeadline(deadline, () => connection.workflowService.getSystemInfo({}));
      return connection;
    } catch (err) {
      const code = isGrpcServiceError(err) ? err.code : undefined;
      // An old server without getSystemInfo still answered.
      if (code === 12 /* UNIMPLEMENTED */) return connection;
      // It answered, and said no: waiting will not change that.
      if (code === 16 /* UNAUTHENTICATED */ || code === 7 /* PERMISSION_DENIED */) {
        await connection.close();
        throw new Error(
          `Temporal at ${target.address} refused the client (${(err as { details?: string }).details}); check TEMPORAL_API_KEY or TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY`,
        );
      }
      // A refusal says more than the deadline that ran out while the last attempt waited.
      if (!problem || code !== 4 /* DEADLINE_EXCEEDED */) problem = connectionProblem(err);
      if (Date.now() >= deadline - 250) {
        await connection.close();
        throw new TemporalUnreachableError(target.address, problem, connectTimeoutMs);
      }
      await sleep(250);
    }
  }
}

/** The worker's (native) connection, tried until `connectTimeoutMs` passes, like connectClient. */
export async function connectWorker(
  target: TemporalTarget,
  connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
): Promise<NativeConnection> {
  const options: NativeConnectionOptions = {
    address: target.address,
    tls: tls(target) as NativeConnectionOptions['tls'],
    apiKey: target.apiKey,
  };
  const deadline = Date.now() + connectTimeoutMs;
  for (;;) {
    try {
      return await NativeConnection.connect(options);
    } catch (err) {
      // Anything but a transport failure (a bad option, say) will not get better by waiting.
      if (!(err instanceof TransportError)) throw err;
      if (Date.now() >= deadline - 500)
        throw new TemporalUnreachableError(target.address, connectionProblem(err), connectTimeoutMs);
      await sleep(500);
    }
  }
}
