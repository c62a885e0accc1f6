// A real HTTPS git server, the way the deployer meets GitHub: git's own smart HTTP (git http-backend
// as CGI) behind Node's https server with the test PKI, HTTP Basic auth with an installation token
// (user x-access-token, password the token; anything else 401 with GitHub's challenge), and an
// optional pre-receive hook, so a push can be declined the way a server-side policy declines it.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';

export interface RefUpdate {
  ref: string;
  oldSha: string;
  newSha: string;
}

/**
 * A pre-receive hook: a function given the push's ref updates that returns the message to decline
 * with (printed to the pusher as `remote:` lines), or nothing to accept; or a hook script's text
 * (`#!/bin/sh …`), run as the repository's pre-receive hook.
 */
export type PreReceive = ((updates: RefUpdate[]) => string | undefined | Promise<string | undefined>) | string;

export interface GitServerOptions {
  /** Directory of bare repositories (GIT_PROJECT_ROOT): root/a/b.git is served at /a/b.git. */
  root: string;
  /** The token required as the Basic password of user x-access-token; absent: anonymous access. */
  token?: string;
  preReceive?: PreReceive;
  /** Milliseconds each request waits before it is served. */
  delayMs?: number;
}

/** One request as served: never the password. */
export interface GitRequest {
  method: string;
  /** Path and query string, as requested. */
  url: string;
  status: number;
  /** The Basic user the request authenticated with (whether or not accepted), or null. */
  user: string | null;
  /** Content-Encoding of the request body (git gzips large fetch negotiations). */
  encoding: string | null;
  /** Bytes of the request body as received (before any gunzip). */
  bytes: number;
}

export interface GitServer {
  /** https://127.0.0.1:PORT */
  url: string;
  /** The https URL of a bare repository under the root. */
  urlFor(bareDir: string): string;
  requests: GitRequest[];
  /** Set or clear the pre-receive hook; applies to the next push. */
  setPreReceive(hook: PreReceive | undefined): void;
  /** How long each request waits before it is served; change it at any time. */
  delayMs: number;
  /** What the token may do: `read` refuses pushes with 403 as GitHub does a token without contents: write. */
  access: 'read' | 'write';
  /** What git http-backend and the hooks wrote to stderr (the last 20 kB). */
  output(): string;
  stop(): Promise<void>;
}

/** The test CA, which git must trust to talk to the server (GIT_SSL_CAINFO). */
export function testCaFile(): string {
  const pki = process.env.TEST_PKI_DIR;
  if (!pki) throw new Error('TEST_PKI_DIR is not set; run the tests through `npm test` (scripts/test.mjs sets it)');
  return join(pki, 'ca.pem');
}

function basicCredentials(header: string | undefined): { user: string; password: string } | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0
    ? { user: decoded, password: '' }
    : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A pre-receive hook that hands its stdin to the server over a unix socket and declines with the answer. */
function bridgeHook(socket: string): string {
  return `#!${process.execPath}
const http = require('node:http');
let input = '';
process.stdin.on('data', (d) => (input += d)).on('end', () => {
  const req = http.request({ socketPath: ${JSON.stringify(socket)}, path: '/pre-receive', method: 'POST' }, (res) => {
    let body = '';
    res.on('data', (d) => (body += d)).on('end', () => {
      if (res.statusCode === 204) process.exit(0);
      process.stderr.write(body.endsWith('\\n') ? body : body + '\\n');
      process.exit(1);
    });
  });
  req.on('error', (err) => { process.stderr.write('pre-receive bridge: ' + err.message + '\\n'); process.exit(1); });
  req.end(input);
});
`;
}

export async function startGitServer(options: GitServerOptions): Promise<GitServer> {
  const pki = process.env.TEST_PKI_DIR;
  if (!pki) throw new Error('TEST_PKI_DIR is not set; run the tests through `npm test` (scripts/test.mjs sets it)');
  const hooksDir = mkdtempSync(join(tmpdir(), 'git-server-hooks-'));
  const hookFile = join(hooksDir, 'pre-receive');
  const socket = join(hooksDir, 'bridge.sock');
  const requests: GitRequest[] = [];
  let output = '';
  const remember = (text: string) => (output = (output + text).slice(-20_000));
  let hookFn: Exclude<PreReceive, string> | undefined;

  function setPreReceive(hook: PreReceive | undefined): void {
    hookFn = typeof hook === 'function' ? hook : undefined;
    if (hook === undefined) return rmSync(hookFile, { force: true });
    writeFileSync(hookFile, typeof hook === 'string' ? hook : bridgeHook(socket));
    chmodSync(hookFile, 0o755);
  }

  // The hook's way back to the function: a unix socket in the hooks dir, never a port.
  const bridge: HttpServer = createHttpServer((req, res) => {
    let body = '';
    req
      .on('data', (d) => (body += d))
      .on('end', async () => {
        const updates = body
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const [oldSha, newSha, ref] = line.split(' ');
            return { oldSha: oldSha!, newSha: newSha!, ref: ref! };
          });
        try {
          const declined = hookFn ? await hookFn(updates) : undefined;
          if (declined === undefined) res.writeHead(204).end();
          else res.writeHead(403, { 'content-type': 'text/plain' }).end(declined);
        } catch (err) {
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`pre-receive hook threw: ${(err as Error).message}`);
        }
      });
  });
  await new Promise<void>((ready) => bridge.listen(socket, ready));

  // Server side of git: receive-pack on for pushes, our hooks dir, and fetching any reachable commit by SHA as GitHub allows.
  const gitConfig: Array<[string, string]> = [
    ['http.receivepack', 'true'],
    ['core.hooksPath', hooksDir],
    ['uploadpack.allowReachableSHA1InWant', 'true'],
  ];
  const configEnv = Object.fromEntries(
    gitConfig.flatMap(([key, value], i) => [
      [`GIT_CONFIG_KEY_${i}`, key],
      [`GIT_CONFIG_VALUE_${i}`, value],
    ]),
  );

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://git.invalid');
    const credentials = basicCredentials(req.headers.authorization);
    const entry: GitRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      status: 0,
      user: credentials?.user ?? null,
      encoding: (req.headers['content-encoding'] as string | undefined) ?? null,
      bytes: 0,
    };
    requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
    // unref: a delayed request must not keep the test process alive after the server stopped.
    if (server.delayMs > 0) await new Promise((r) => setTimeout(r, server.delayMs).unref());

    const accepted =
      options.token === undefined || (credentials?.user === 'x-access-token' && credentials.password === options.token);
    if (!accepted) {
      req.resume();
      res
        .writeHead(401, { 'www-authenticate': 'Basic realm="GitHub"', 'content-type': 'text/plain' })
        .end('Invalid username or password.\n');
      return;
    }
    if (
      server.access === 'read' &&
      (url.searchParams.get('service') === 'git-receive-pack' || url.pathname.endsWith('/git-receive-pack'))
    ) {
      req.resume();
      const repository = url.pathname.replace(/^\/|\/(info\/refs|git-receive-pack)$/g, '');
      res
        .writeHead(403, { 'content-type': 'text/plain' })
        .end(`Permission to ${repository} denied to ${credentials?.user ?? 'anonymous'}.\n`);
      return;
    }

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: hooksDir,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_COUNT: String(gitConfig.length),
      ...configEnv,
      GIT_PROJECT_ROOT: options.root,
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: entry.method,
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      ...(credentials && options.token !== undefined ? { REMOTE_USER: credentials.user } : {}),
      // Without a length http-backend reads the body to its end (git sends big packs chunked).
      ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
      // http-backend gunzips the body itself when told it is gzipped.
      ...(entry.encoding ? { HTTP_CONTENT_ENCODING: entry.encoding } : {}),
      ...(req.headers['git-protocol'] ? { HTTP_GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
    };
    const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => remember(d.toString()));
    child.stdin.on('error', () => undefined); // http-backend may answer (an error) before reading the whole body
    // Counted as it streams on (a 'data' listener before this would start the flow during the delay and lose it).
    req.on('data', (chunk: Buffer) => (entry.bytes += chunk.length));
    req.pipe(child.stdin);

    // CGI: headers (Status: among them), a blank line, then the body, streamed on.
    let head = Buffer.alloc(0);
    let started = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (started) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf('\r\n\r\n');
      const lf = head.indexOf('\n\n');
      const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
      if (end < 0) return;
      started = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/).filter(Boolean)) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (/^status$/i.test(name)) status = Number.parseInt(value, 10) || 500;
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end));
    });
    child.on('close', (code) => {
      if (!started) res.writeHead(500, { 'content-type': 'text/plain' }).end(`git http-backend exited ${code}\n`);
      else res.end();
    });
  }

  const https = createHttpsServer(
    { cert: readFileSync(join(pki, 'server.pem')), key: readFileSync(join(pki, 'server-key.pem')) },
    (req, res) => {
      handle(req, res).catch((err: Error) => {
        remember(`${err.stack}\n`);
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    },
  );
  await new Promise<void>((ready) => https.listen(0, '127.0.0.1', ready));
  const base = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;

  const server: GitServer = {
    url: base,
    urlFor(bareDir) {
      const path = relative(options.root, bareDir);
      if (path.startsWith('..')) throw new Error(`${bareDir} is not under the git server's root ${options.root}`);
      return `${base}/${path.split(sep).map(encodeURIComponent).join('/')}`;
    },
    requests,
    setPreReceive,
    delayMs: options.delayMs ?? 0,
    access: 'write',
    output: () => output,
    async stop() {
      https.closeAllConnections();
      await Promise.all([new Promise((done) => https.close(done)), new Promise((done) => bridge.close(done))]);
      rmSync(hooksDir, { recursive: true, force: true });
    },
  };
  setPreReceive(options.preReceive);
  return server;
}
