import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';

/** `json`: one object per line, for collectors; `pretty`: one readable line, for a terminal. */
export type LogFormat = 'json' | 'pretty';

/** Temporal's Logger, and loggers derived from it that add fields to every line. */
export type StructuredLogger = Logger & { child(meta: LogMetadata): StructuredLogger };

const LEVELS: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };

/** The environment variables whose values must never reach a log line (exact values are masked). */
export const SECRET_ENV = [
  'GITHUB_TOKEN',
  'ARGOCD_TOKEN',
  'GITHUB_WEBHOOK_SECRET',
  'AZURE_CLIENT_SECRET',
  'SLACK_WEBHOOK_URL',
  'NOTIFY_WEBHOOK_URL',
] as const;

export interface LogOptions {
  /** Who writes: `worker`, `relay`, `deployctl`; every line carries it. */
  component: string;
  format?: LogFormat;
  level?: LogLevel;
  stream?: NodeJS.WritableStream;
  /** Values masked wherever they appear in a message or a field (see secretsFromEnv). */
  secrets?: readonly string[];
  /** Fields on every line. */
  base?: LogMetadata;
}

/**
 * The secret values set in `env`, and the forms they travel in (git's Basic header carries the
 * token base64-encoded as `x-access-token:<token>`; a URL carries it percent-encoded), longest
 * first so a secret containing another is masked whole.
 */
export function secretsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  // Every notification sink's URL (NOTIFY_<NAME>_URL) is a secret too: its path is the credential.
  const sinks = Object.keys(env).filter((name) => /^NOTIFY_[A-Z0-9_]+_URL$/.test(name));
  const values = [...SECRET_ENV, ...sinks].map((name) => env[name]).filter((v): v is string => !!v && v.length >= 4);
  const forms = values.flatMap((v) => [
    v,
    encodeURIComponent(v),
    Buffer.from(v).toString('base64'),
    Buffer.from(`x-access-token:${v}`).toString('base64'),
  ]);
  return [...new Set(forms)].sort((a, b) => b.length - a.length);
}

/** LOG_FORMAT if set, otherwise pretty on a terminal and JSON everywhere else (containers, pipes, files). */
export function logFormatFromEnv(env: NodeJS.ProcessEnv = process.env, stream: { isTTY?: boolean } = process.stdout) {
  const asked = env.LOG_FORMAT?.toLowerCase();
  if (asked === 'json' || asked === 'pretty') return asked;
  return stream.isTTY ? 'pretty' : 'json';
}

/** LOG_LEVEL (debug, info, warn, error; trace too), default info. */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const asked = env.LOG_LEVEL?.toUpperCase();
  return asked && asked in LEVELS ? (asked as LogLevel) : 'INFO';
}

const MASK = '***';

/**
 * Shapes that carry credentials even when the value is not one we know (a token from another
 * source). Each keeps what names the credential and masks the credential itself.
 */
const CREDENTIAL_SHAPES: Array<[RegExp, (match: string, ...groups: string[]) => string]> = [
  // GitHub tokens: ghp_ (classic), gho_, ghu_, ghs_ (app installations), ghr_, and fine-grained PATs.
  [/\b(?:gh[pousr]_[A-Za-z0-9_]{10,}|github_pat_[A-Za-z0-9_]{20,})/g, () => MASK],
  // JWTs: Argo CD's tokens, ACR's and Azure AD's access tokens.
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+/g, () => MASK],
  // An Authorization header's value, whatever its scheme and wherever it is quoted: `Authorization: Basic …`,
  // `authorization=Bearer …`, `"authorization":"token …"`.
  [
    /(\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(basic|bearer|token|digest)\s+)?[^\s"',;]+/gi,
    (_, name: string, scheme?: string) => `${name}${scheme ? `${scheme} ` : ''}${MASK}`,
  ],
  // A bare Bearer or Basic credential: token-like (a digit or punctuation), so prose such as "Basic authentication" stays.
  [/\b(Bearer\s+)(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{12,}/gi, (_, keep: string) => `${keep}${MASK}`],
  [/\b(Basic\s+)(?=[A-Za-z0-9+/]*[0-9+/])[A-Za-z0-9+/]{12,}={0,2}/gi, (_, keep: string) => `${keep}${MASK}`],
  [/(x-access-token:)[^@\s"']+/gi, (_, keep: string) => `${keep}${MASK}`],
  // A password in a URL: https://user:password@host.
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]+@/gi, (_, keep: string) => `${keep}${MASK}@`],
  // Credentials in a query string.
  [
    /([?&](?:access_token|token|client_secret|password|sig|signature)=)[^&\s"'#]+/gi,
    (_, keep: string) => `${keep}${MASK}`,
  ],
];

/** Fields whose value is a credential whatever it looks like (request headers, config objects). */
const SECRET_KEY =
  /^(?:(?:proxy-)?authorization|cookie|set-cookie|x-hub-signature(?:-256)?|password|passwd|secret|token|access_token|refresh_token|client_secret|api[-_]?key|x-api-key)$/i;

/** The SDK's activity fields: the task token is a capability to complete the activity, and 100+ characters of noise. */
const DROPPED_KEYS = new Set(['taskToken']);

// Bounds, so one odd entry (a payload, a huge list) cannot flood the stream or stall the process.
const MAX_DEPTH = 8;
const MAX_ITEMS = 50;
const MAX_KEYS = 100;
const MAX_STRING = 8_000;

/** Masks every known secret value, then every credential shape. */
function redactText(text: string, secrets: readonly string[]): string {
  let out =
    text.length > MAX_STRING ? `${text.slice(0, MAX_STRING)}…(${text.length - MAX_STRING} more characters)` : text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(MASK);
  for (const [shape, replace] of CREDENTIAL_SHAPES) out = out.replace(shape, replace);
  return out;
}

/**
 * A JSON-safe copy of any value, redacted: errors keep what explains them (name, message, code,
 * Temporal's type and retryability, stack, causes), where JSON.stringify would make them `{}`;
 * bigints, dates and URLs become strings; cycles, depth and size are bounded; a getter that
 * throws yields a marker instead of an exception.
 */
function plain(value: unknown, secrets: readonly string[], depth: number, parents: object[]): unknown {
  switch (typeof value) {
    case 'string':
      return redactText(value, secrets);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
    case 'symbol':
      return value.toString();
    case 'undefined':
    case 'function':
      return undefined;
  }
  if (value === null) return null;
  const object = value as object;
  if (parents.includes(object)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[…]';
  const inner = [...parents, object];
  try {
    return plainObject(object, secrets, (v) => plain(v, secrets, depth + 1, inner));
  } catch {
    return '[unreadable]'; // a Proxy or a toJSON that throws
  }
}

function plainObject(object: object, secrets: readonly string[], nested: (v: unknown) => unknown): unknown {
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? 'Invalid Date' : object.toISOString();
  if (object instanceof URL) return redactText(object.href, secrets);
  if (object instanceof Error) return plainError(object, nested);
  if (ArrayBuffer.isView(object)) return `[${object.constructor.name} ${object.byteLength} bytes]`;
  if (object instanceof Map)
    return entries(
      [...object].map(([k, v]) => [String(k), v]),
      secrets,
      nested,
    );
  if (Array.isArray(object) || object instanceof Set) {
    const items = [...(object as Iterable<unknown>)];
    const shown = items.slice(0, MAX_ITEMS).map((v) => nested(v) ?? null);
    return items.length > MAX_ITEMS ? [...shown, `…(${items.length - MAX_ITEMS} more)`] : shown;
  }
  if (typeof (object as { toJSON?: unknown }).toJSON === 'function')
    return nested((object as { toJSON(): unknown }).toJSON());
  // protobufjs Longs (Temporal's protos): their decimal value, not { low, high, unsigned }.
  if (['low', 'high', 'unsigned'].every((k) => k in object) && Object.keys(object).length === 3) return String(object);
  const keys = Object.keys(object);
  const read = keys.slice(0, MAX_KEYS).map((k): [string, unknown] => {
    try {
      return [k, (object as Record<string, unknown>)[k]];
    } catch {
      return [k, '[unreadable]'];
    }
  });
  const out = entries(read, secrets, nested);
  if (keys.length > MAX_KEYS) out['…'] = `${keys.length - MAX_KEYS} more fields`;
  return out;
}

function entries(
  pairs: Array<[string, unknown]>,
  secrets: readonly string[],
  nested: (v: unknown) => unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of pairs) {
    if (DROPPED_KEYS.has(key)) continue;
    const copy = SECRET_KEY.test(key) && v !== null && v !== undefined && v !== '' ? MASK : nested(v);
    if (copy !== undefined) out[redactText(key, secrets)] = copy;
  }
  return out;
}

/** What explains an error; its request and response objects (headers, bodies) stay out. */
function plainError(err: Error, nested: (v: unknown) => unknown): Record<string, unknown> {
  const fields = err as Error & Record<string, unknown>;
  const out: Record<string, unknown> = { name: nested(err.name), message: nested(err.message) };
  for (const key of ['code', 'type', 'nonRetryable', 'nextRetryDelay', 'status', 'statusCode'] as const) {
    if (fields[key] !== undefined && fields[key] !== null) out[key] = nested(fields[key]);
  }
  if (err.stack) out.stack = nested(err.stack);
  if (err.cause !== undefined) out.cause = nested(err.cause);
  if (err instanceof AggregateError) out.errors = nested(err.errors);
  return out;
}

/** The SDK's own time of the entry (nanoseconds since the epoch), or now. */
function timeOf(meta: LogMetadata | undefined): string {
  const nanos = (meta as Record<symbol, unknown> | undefined)?.[Symbol.for('log_timestamp')];
  const date = typeof nanos === 'bigint' ? new Date(Number(nanos / 1_000_000n)) : new Date();
  return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
}

/** Context a terminal reader does not need on every line; JSON keeps it for queries. */
const PRETTY_OMITS = new Set(['component', 'sdkComponent', 'namespace', 'taskQueue', 'isLocal', 'activityId']);

function prettyValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  const error = value as { name?: unknown; message?: unknown; stack?: unknown } | null;
  if (error && typeof error === 'object' && typeof error.message === 'string' && typeof error.stack === 'string')
    return JSON.stringify(`${String(error.name)}: ${error.message}`);
  return JSON.stringify(value);
}

/**
 * A Temporal `Logger` writing one line per entry: the SDK (Runtime.install({ logger })), the workflow and
 * activity `log` objects and our own code all go through it, so every line has the same shape and redaction.
 * JSON lines are `{"time","level","msg","component",…fields}`; the SDK's `workflowRunId` is written `runId`,
 * the name workflow lines use, so one field finds a run's lines from both. It never throws.
 */
export function createLogger(options: LogOptions): StructuredLogger {
  const stream = options.stream ?? process.stdout;
  const format = options.format ?? logFormatFromEnv();
  const threshold = LEVELS[options.level ?? logLevelFromEnv()];
  const secrets = options.secrets ?? secretsFromEnv();
  const component = options.component;

  const write = (level: LogLevel, message: unknown, base: LogMetadata, meta: LogMetadata | undefined) => {
    const time = timeOf(meta);
    const text = redactText(typeof message === 'string' ? message : String(message), secrets);
    // Merged by descriptor, not spread: a getter that throws is read (and marked) in plain(), not here.
    const merged = Object.defineProperties(
      {},
      {
        ...Object.getOwnPropertyDescriptors(base),
        ...(meta && Object.getOwnPropertyDescriptors(meta)),
      },
    );
    const all = plain(merged, secrets, 0, []) as Record<string, unknown>;
    const fields = Object.fromEntries(
      Object.entries(all)
        .filter(([key]) => key !== 'component')
        .map(([key, value]) => [key === 'workflowRunId' && !('runId' in all) ? 'runId' : key, value]),
    );
    if (format === 'json') {
      stream.write(`${JSON.stringify({ time, level: level.toLowerCase(), msg: text, component, ...fields })}\n`);
      return;
    }
    const extra = Object.entries(fields)
      .filter(([key]) => !PRETTY_OMITS.has(key))
      .map(([key, value]) => `${key}=${prettyValue(value)}`)
      .join(' ');
    stream.write(`${time} ${level.padEnd(5)} [${component}] ${text}${extra ? `  ${extra}` : ''}\n`);
  };

  const make = (base: LogMetadata): StructuredLogger => {
    const log = (asked: LogLevel, message: string, meta?: LogMetadata) => {
      const level = String(asked).toUpperCase() as LogLevel;
      if (!(LEVELS[level] >= threshold)) return;
      try {
        write(level, message, base, meta);
      } catch (err) {
        // A logger that throws would fail the step or the delivery it describes: say so, without the entry's fields.
        try {
          const problem = redactText(`log entry dropped (${(err as Error)?.message ?? String(err)})`, secrets);
          stream.write(
            `${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: problem, component })}\n`,
          );
        } catch {
          // the stream itself is gone: nothing left to tell
        }
      }
    };
    return {
      log,
      trace: (m, meta) => log('TRACE', m, meta),
      debug: (m, meta) => log('DEBUG', m, meta),
      info: (m, meta) => log('INFO', m, meta),
      warn: (m, meta) => log('WARN', m, meta),
      error: (m, meta) => log('ERROR', m, meta),
      child: (meta) => make({ ...base, ...meta }),
    };
  };
  return make({ ...options.base });
}
