import { readFileSync } from 'node:fs';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';

/** Where and how to reach Temporal; flags win over TEMPORAL_* environment variables. */
export interface TemporalTarget {
  address: string;
  namespace: string;
  tlsCert?: string;
  tlsKey?: string;
  apiKey?: string;
}

export function temporalTarget(flags: Partial<TemporalTarget> = {}, env: NodeJS.ProcessEnv = process.env, defaultNamespace = 'default'): TemporalTarget {
  return {
    address: flags.address ?? env.TEMPORAL_ADDRESS ?? 'localhost:7233',
    namespace: flags.namespace ?? env.TEMPORAL_NAMESPACE ?? defaultNamespace,
    tlsCert: flags.tlsCert ?? env.TEMPORAL_TLS_CERT,
    tlsKey: flags.tlsKey ?? env.TEMPORAL_TLS_KEY,
    apiKey: flags.apiKey ?? env.TEMPORAL_API_KEY,
  };
}

function tls(target: TemporalTarget): ConnectionOptions['tls'] {
  // Half a client certificate must not silently fall back to plaintext.
  if (Boolean(target.tlsCert) !== Boolean(target.tlsKey)) throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together');
  if (target.tlsCert && target.tlsKey) {
    return { clientCertPair: { crt: readFileSync(target.tlsCert), key: readFileSync(target.tlsKey) } };
  }
  // Temporal Cloud API keys need TLS without a client certificate.
  return target.apiKey ? true : undefined;
}

/** Bounded, so a relay or worker started while Temporal is down says so instead of hanging. */
export function connectClient(target: TemporalTarget, connectTimeoutMs = 10_000): Promise<Connection> {
  return Connection.connect({ address: target.address, tls: tls(target), apiKey: target.apiKey, connectTimeout: connectTimeoutMs });
}

export function connectWorker(target: TemporalTarget): Promise<NativeConnection> {
  return NativeConnection.connect({ address: target.address, tls: tls(target) as NativeConnectionOptions['tls'], apiKey: target.apiKey });
}
