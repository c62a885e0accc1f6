import { readFileSync } from 'node:fs';
import ms from 'ms';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { temporalTarget, type TemporalTarget } from '../temporal/connection';

/** A bad flag value that commander cannot check by itself: exit code 2 like any usage error. */
export class UsageError extends Error {}

export interface ConnectionFlags extends Partial<TemporalTarget> {
  connectTimeout?: string;
}

/** What a command needs to talk to Temporal, plus the address for messages. */
export interface Connected {
  client: Client;
  target: TemporalTarget;
  close(): Promise<void>;
}

export function parseDuration(text: string, flag: string): number {
  // A bare number would be milliseconds to `ms`; the config refuses it too.
  if (/^\s*[\d.]+\s*$/.test(text)) throw new UsageError(`${flag}: ${text} has no unit: add a unit, e.g. ${text}s`);
  const value = ms(text as ms.StringValue);
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new UsageError(`${flag}: expected a duration like "5s", got ${JSON.stringify(text)}`);
  return value;
}

function tls(target: TemporalTarget): ConnectionOptions['tls'] {
  if (Boolean(target.tlsCert) !== Boolean(target.tlsKey))
    throw new UsageError('--tls-cert and --tls-key (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY) go together');
  if (target.tlsCert && target.tlsKey) {
    const read = (file: string) => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new UsageError(`cannot read TLS file ${file}: ${(err as Error).message}`);
      }
    };
    return { clientCertPair: { crt: read(target.tlsCert), key: read(target.tlsKey) } };
  }
  // Temporal Cloud API keys need TLS without a client certificate.
  return target.apiKey ? true : undefined;
}

/**
 * Connects with a bounded wait: the SDK's eager connect would otherwise retry for its own default,
 * and an operator with a wrong TEMPORAL_ADDRESS should hear so quickly, with the address named.
 */
export async function connect(flags: ConnectionFlags, defaultNamespace: string): Promise<Connected> {
  const target = temporalTarget(flags, process.env, defaultNamespace);
  const timeoutMs = parseDuration(flags.connectTimeout ?? '5s', '--connect-timeout');
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address: target.address,
      tls: tls(target),
      apiKey: target.apiKey,
      connectTimeout: timeoutMs,
    });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new Error(
      `cannot reach Temporal at ${target.address} within ${ms(timeoutMs)} (${(err as Error).message}); set --address or TEMPORAL_ADDRESS`,
    );
  }
  return { client: new Client({ connection, namespace: target.namespace }), target, close: () => connection.close() };
}
