import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { REQUEST_TIMEOUT_MS } from '../activities/faults';

/** What the git server said to the first request of a push, asking with the worker's credentials. */
export type ReceivePackAnswer =
  { probed: true; status: number } | { probed: true; error: string } | { probed: false; why: string };

/**
 * The first request of every `git push` over HTTPS: the receive-pack advertisement, which the server
 * answers only to a client that may push (GitHub: 403 to a token with contents: read). Sent with the
 * header the worker gives git (Basic x-access-token:<token>, src/activities/git.ts), pushes nothing,
 * and covers what the REST API cannot show: a fine-grained or App token's own contents permission.
 */
export async function probeReceivePack(
  cloneUrl: string,
  token: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<ReceivePackAnswer> {
  if (!/^https:\/\//i.test(cloneUrl))
    return { probed: false, why: `the origin is reached over ${/^file:/i.test(cloneUrl) ? 'file://' : 'ssh'}` };
  // git goes through the proxy; this request would not, and its answer would say nothing.
  if (env.HTTPS_PROXY || env.https_proxy) return { probed: false, why: 'git reaches the origin through HTTPS_PROXY' };
  const url = new URL(`${cloneUrl.replace(/\/+$/, '')}/info/refs`);
  url.searchParams.set('service', 'git-receive-pack');
  const headers: Record<string, string> = { 'user-agent': 'git/2 (gitops-deployer doctor)' };
  if (token) headers.authorization = `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
  // git trusts GIT_SSL_CAINFO instead of the system's bundle when it is set; so does this probe.
  const ca = env.GIT_SSL_CAINFO ? readFileSync(env.GIT_SSL_CAINFO) : undefined;
  return new Promise((done) => {
    const req = request(url, { headers, ca, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      done({ probed: true, status: res.statusCode ?? 0 });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => done({ probed: true, error: err.code ?? err.message }));
    req.end();
  });
}
