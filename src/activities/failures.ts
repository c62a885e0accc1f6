import { ApplicationFailure } from '@temporalio/common';
import { fault, isVerdict, REQUEST_TIMEOUT_MS, type Observed, type Service } from './faults';

// What each client's failed request showed (Octokit's RequestError, the Azure SDK's RestError,
// fetch's errors and responses), read into the facts the fault table (./faults.ts) decides on.

/** A permanent problem with the request or the repository that a person must fix. */
export function permanent(message: string, type = 'DeployStepFailed'): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}

/** A preview step's part of the configuration; a worker without a preview section refuses previews for good. */
export function previewsConfigured<T>(preview: T | undefined): T {
  if (preview === undefined)
    throw permanent(
      'previews are not configured: add a preview section (overlayPath, application) to the configuration',
      'PreviewNotConfigured',
    );
  return preview;
}

/** What the request was for, for the table's messages. */
export interface RequestContext {
  subject?: string;
  notFound?: string;
}

/**
 * The verdict on an error a client threw: a timeout, a network error, an HTTP answer, an Azure
 * credential with no token. An error that shows none of these (a bug, a malformed body) is
 * returned unchanged and retried as it is; one that is already a verdict passes through.
 */
export function requestFailure(service: Service, host: string, err: unknown, context: RequestContext = {}): unknown {
  if (isVerdict(err)) return err;
  const facts = observe(err);
  if (!facts) return err;
  return fault({ service, host, subject: context.subject, notFound: context.notFound, ...facts });
}

/** The verdict on a fetch Response that is not ok; reads (at most) its body for the server's words. */
export async function responseFailure(
  service: Service,
  host: string,
  response: Response,
  context: RequestContext = {},
): Promise<Error> {
  const body = await response.text().catch(() => '');
  return fault({
    service,
    host,
    subject: context.subject,
    notFound: context.notFound,
    status: response.status,
    header: (name) => response.headers.get(name),
    detail: serverWords(body),
  });
}

type Facts = Omit<Observed, 'service' | 'host' | 'subject' | 'notFound'>;

interface ErrorShape {
  name?: string;
  message?: string;
  code?: unknown;
  cause?: unknown;
  errors?: unknown[];
  /** Octokit's RequestError: status; the Azure SDK's RestError: statusCode. Only meaningful with a response. */
  status?: number;
  statusCode?: number;
  request?: { url?: string };
  response?: {
    headers?: Record<string, string | undefined> | { get(name: string): string | undefined };
    /** Octokit: the parsed body. */
    data?: unknown;
    /** Azure SDK: the body's text. */
    bodyAsText?: string | null;
  };
}

function observe(err: unknown): Facts | undefined {
  const chain = causes(err);
  // fetch's AbortSignal.timeout rejects with a TimeoutError; Octokit wraps it, keeping it as the cause.
  // Every client's requests run with REQUEST_TIMEOUT_MS.
  if (chain.some((e) => e.name === 'TimeoutError')) return { timedOutAfterMs: REQUEST_TIMEOUT_MS };
  const unavailable = chain.find(
    (e) => e.name === 'CredentialUnavailableError' || e.name === 'AggregateAuthenticationError',
  );
  // DefaultAzureCredential's message lists each credential's reason, one a line.
  if (unavailable) return { credentialUnavailable: unavailable.message ?? unavailable.name };

  const top = chain[0]!;
  const status = top.response ? (top.status ?? top.statusCode) : undefined;
  if (typeof status === 'number') {
    const headers = top.response!.headers;
    const header = (name: string) =>
      typeof headers?.get === 'function'
        ? headers.get(name)
        : (headers as Record<string, string | undefined> | undefined)?.[name.toLowerCase()];
    return {
      status,
      header,
      detail: serverWords(top.response!.data ?? top.response!.bodyAsText) ?? top.message,
      path: pathOf(top.request?.url),
    };
  }
  // The innermost code is the most specific: the socket's, under fetch's or the SDK's wrapper.
  const code = chain
    .map((e) => e.code)
    .reverse()
    .find((c): c is string => typeof c === 'string' && NETWORK_CODE.test(c));
  return code ? { code } : undefined;
}

/**
 * A request that got no answer: system errors (ECONNREFUSED, EAI_AGAIN), undici's (UND_ERR_SOCKET),
 * TLS and OpenSSL's certificate checks (ERR_TLS_CERT_ALTNAME_INVALID, CERT_HAS_EXPIRED), and the
 * Azure SDK's own REQUEST_SEND_ERROR. Not Node's other ERR_ codes: those are bugs, not the network.
 */
const NETWORK_CODE =
  /^(E[A-Z]+(_[A-Z]+)?|UND_ERR_[A-Z_]+|ERR_(TLS|SSL)_[A-Z_]+|CERT_[A-Z_]+|UNABLE_TO_[A-Z_]+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|REQUEST_SEND_ERROR)$/;

/** The error and its causes (fetch: TypeError → the socket's error; Node's happy eyeballs: AggregateError). */
function causes(err: unknown): ErrorShape[] {
  const chain: ErrorShape[] = [];
  for (let e = err as ErrorShape | undefined; e && typeof e === 'object' && chain.length < 8;) {
    chain.push(e);
    e = (e.cause ?? e.errors?.[0]) as ErrorShape | undefined;
  }
  return chain.length ? chain : [{ message: String(err) }];
}

/** A JSON error body's message (GitHub, Argo CD's grpc-gateway, the OCI `errors` list), else its text. */
function serverWords(body: unknown): string | undefined {
  let data = body;
  if (typeof body === 'string') {
    try {
      data = JSON.parse(body);
    } catch {
      return body.trim() || undefined;
    }
  }
  const record = data as { message?: unknown; error?: unknown; errors?: Array<{ message?: unknown }> } | null;
  const words = record?.message ?? record?.error ?? record?.errors?.[0]?.message;
  return typeof words === 'string' && words ? words : undefined;
}

function pathOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).pathname;
  } catch {
    return undefined;
  }
}
