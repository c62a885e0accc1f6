// Stand-in for Argo CD's ApplicationService over HTTP (grpc-gateway JSON), behaving
// like an auto-syncing Application that tracks `main` of the test origin repo.
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { git } from '../support/origin';

export interface KustomizeImage { name: string; newName: string; newTag: string }
export type HealthStatus = 'Healthy' | 'Progressing' | 'Degraded' | 'Missing' | 'Suspended' | 'Unknown';
export interface Health { status: HealthStatus; message?: string }
export interface ArgoCdStandInOptions {
  token: string;
  application: string;
  originBareDir: string;
  /** Overlay dir (`k8s/overlays/prod`) or its kustomization.yaml. */
  overlayPath: string;
  syncDelayMs?: number;
  imageExists: (image: KustomizeImage) => Promise<boolean>;
  /** spec.source.repoURL (default: file:// URL of originBareDir). */
  repoURL?: string;
}
export interface LoggedRequest { method: string; path: string; query: Record<string, string>; status: number }
export interface ArgoCdStandIn {
  url: string;
  requests: LoggedRequest[];
  forceHealth(status: HealthStatus, message?: string): void;
  clearForce(): void;
  stop(): Promise<void>;
}

interface Deployed {
  sha: string; images: KustomizeImage[]; namespace: string; startedAt: string; finishedAt: string;
  phase: 'Succeeded' | 'Failed'; message: string; health: Health; workloads: Array<{ name: string; image: string; health: Health; pod?: Health }>;
}

// Kubernetes metav1.Time serialises at second precision.
const ts = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const ref = (i: KustomizeImage) => `${i.newName || i.name}:${i.newTag}`;

export async function startArgoCdStandIn(opts: ArgoCdStandInOptions): Promise<ArgoCdStandIn> {
  const { token, application: appName, originBareDir, syncDelayMs = 300, imageExists } = opts;
  const overlayFile = /\.ya?ml$/.test(opts.overlayPath) ? opts.overlayPath : `${opts.overlayPath.replace(/\/$/, '')}/kustomization.yaml`;
  const source = { repoURL: opts.repoURL ?? pathToFileURL(originBareDir).href, path: overlayFile.replace(/\/[^/]+$/, ''), targetRevision: 'main' };
  const destination = { server: 'https://kubernetes.default.svc', namespace: 'default' };
  const requests: LoggedRequest[] = [];
  const history: Array<Record<string, unknown>> = [];
  const created = ts();
  const uid = randomUUID();
  let resourceVersion = 1000;
  let forced: Health | null = null;
  let pending: { sha: string; detectedAt: number } | null = null;
  let reconciledAt = Date.now();

  async function deploy(sha: string, startedMs: number): Promise<Deployed> {
    const base = { sha, startedAt: ts(startedMs), images: [] as KustomizeImage[], namespace: destination.namespace, workloads: [] as Deployed['workloads'] };
    let doc: { namespace?: string; images?: KustomizeImage[] };
    try {
      doc = parse(await git(originBareDir, ['show', `${sha}:${overlayFile}`])) ?? {};
    } catch (err) {
      // Argo reports unrenderable manifests as a failed operation and leaves the cluster alone.
      const message = `ComparisonError: Failed to load target state: ${(err as Error).message.split('\n')[0]}`;
      return { ...base, finishedAt: ts(), phase: 'Failed', message, health: current?.health ?? { status: 'Missing' }, workloads: current?.workloads ?? [] };
    }
    const images = (doc.images ?? []).map((i) => ({ name: i.name, newName: i.newName ?? i.name, newTag: String(i.newTag ?? 'latest') }));
    const workloads = await Promise.all(images.map(async (i) => {
      if (await imageExists(i)) return { name: i.name, image: ref(i), health: { status: 'Healthy' as const } };
      return { name: i.name, image: ref(i), health: { status: 'Degraded' as const, message: `Deployment "${i.name}" exceeded its progress deadline` },
        pod: { status: 'Degraded' as const, message: `Back-off pulling image "${ref(i)}"` } };
    }));
    const bad = workloads.find((w) => w.pod);
    const health: Health = bad ? { status: 'Degraded', message: `${bad.health.message}: ${bad.pod!.message} (ImagePullBackOff)` } : { status: 'Healthy' };
    destination.namespace = doc.namespace ?? destination.namespace;
    return { ...base, images, namespace: destination.namespace, finishedAt: ts(), phase: 'Succeeded', message: 'successfully synced (all tasks run)', health, workloads };
  }
  const record = (d: Deployed) => {
    history.push({ id: history.length, revision: d.sha, deployStartedAt: d.startedAt, deployedAt: d.finishedAt, source, initiatedBy: { automated: true } });
    history.splice(0, Math.max(0, history.length - 10)); // revisionHistoryLimit
    resourceVersion++;
  };

  let current: Deployed | undefined;
  const head = async () => (await git(originBareDir, ['rev-parse', 'refs/heads/main'])).trim();
  current = await deploy(await head(), Date.now());
  record(current);

  // Poll git like the repo-server does; a newer push while syncing retargets the sync.
  async function poll() {
    const sha = await head();
    if (sha === current!.sha) pending = null;
    else if (sha !== pending?.sha) { pending = { sha, detectedAt: Date.now() }; reconciledAt = Date.now(); resourceVersion++; }
    if (pending && Date.now() - pending.detectedAt >= syncDelayMs) {
      const next = await deploy(pending.sha, pending.detectedAt);
      pending = null;
      current = next;
      record(next);
      reconciledAt = Date.now();
    }
  }
  let chain: Promise<void> = Promise.resolve();
  const update = () => (chain = chain.then(poll).catch(() => undefined));
  const timer = setInterval(update, Math.max(20, Math.min(100, syncDelayMs / 3)));
  timer.unref();

  function application() {
    const cur = current!;
    const syncing = pending;
    const target = syncing?.sha ?? cur.sha;
    const progressing: Health = { status: 'Progressing', message: 'Waiting for rollout to finish: 0 out of 2 new replicas have been updated...' };
    const appHealth = forced ?? (syncing ? { status: 'Progressing' as const } : cur.health);
    const operation = { sync: { revision: target, syncStrategy: { hook: {} } }, initiatedBy: { automated: true }, retry: { limit: 5 } };
    return {
      metadata: { name: appName, namespace: 'argocd', uid, resourceVersion: String(resourceVersion), generation: history.length + 1,
        creationTimestamp: created, finalizers: ['resources-finalizer.argocd.argoproj.io'] },
      spec: { source, destination: { ...destination }, project: 'default',
        syncPolicy: { automated: { prune: true, selfHeal: true }, syncOptions: ['CreateNamespace=true'] } },
      status: {
        resources: cur.workloads.map((w) => ({ group: 'apps', version: 'v1', kind: 'Deployment', namespace: cur.namespace, name: w.name,
          status: syncing ? 'OutOfSync' : 'Synced', health: forced ?? (syncing ? progressing : w.health) })),
        sync: { status: syncing ? 'OutOfSync' : 'Synced', comparedTo: { source, destination: { ...destination } }, revision: target },
        health: appHealth,
        history,
        reconciledAt: ts(reconciledAt),
        operationState: syncing
          ? { operation, phase: 'Running', message: 'one or more tasks are running', startedAt: ts(syncing.detectedAt), syncResult: { revision: target, source } }
          : { operation, phase: cur.phase, message: cur.message, startedAt: cur.startedAt, finishedAt: cur.finishedAt,
              syncResult: { revision: cur.sha, source, resources: cur.workloads.map((w) => ({ group: 'apps', version: 'v1', kind: 'Deployment',
                namespace: cur.namespace, name: w.name, status: 'Synced', message: `deployment.apps/${w.name} configured`, hookPhase: 'Running', syncPhase: 'Sync' })) } },
        sourceType: 'Kustomize',
        summary: { images: cur.images.map(ref) },
        controllerNamespace: 'argocd',
      },
    };
  }

  // Pods are where Argo CD surfaces ImagePullBackOff, so the tree carries them.
  function resourceTree() {
    const cur = current!;
    const nodes = cur.workloads.flatMap((w) => {
      const dep = { group: 'apps', version: 'v1', kind: 'Deployment', namespace: cur.namespace, name: w.name, uid: `${w.name}-uid` };
      const rs = { group: 'apps', version: 'v1', kind: 'ReplicaSet', namespace: cur.namespace, name: `${w.name}-${cur.sha.slice(0, 10)}`, uid: `${w.name}-rs-uid` };
      const pod = { version: 'v1', kind: 'Pod', namespace: cur.namespace, name: `${rs.name}-x7k2p`, uid: `${w.name}-pod-uid` };
      return [
        { ...dep, health: w.health, images: [w.image], createdAt: created },
        { ...rs, parentRefs: [dep], health: w.pod ?? { status: 'Healthy' }, createdAt: cur.finishedAt },
        { ...pod, parentRefs: [rs], images: [w.image], health: w.pod ?? { status: 'Healthy' }, createdAt: cur.finishedAt,
          info: [{ name: 'Status Reason', value: w.pod ? 'ImagePullBackOff' : 'Running' }, { name: 'Containers', value: w.pod ? '0/1' : '1/1' }] },
      ];
    });
    return { nodes };
  }

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'grpc-metadata-content-type': 'application/grpc' });
    res.end(JSON.stringify(body));
  };
  // grpc-gateway error body: gRPC code + message (16 Unauthenticated, 7 PermissionDenied, 5 NotFound).
  const grpcError = (res: ServerResponse, status: number, code: number, message: string) => send(res, status, { error: message, code, message });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const u = new URL(req.url ?? '/', 'http://localhost');
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: u.pathname, query: Object.fromEntries(u.searchParams), status: 0 };
    requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));

    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const cookie = /(?:^|;\s*)argocd\.token=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const presented = bearer ?? cookie;
    if (!presented) return grpcError(res, 401, 16, 'no session information');
    if (presented !== token) return grpcError(res, 401, 16, 'invalid session: token signature is invalid');

    const m = /^\/api\/v1\/applications\/([^/]+)(\/resource-tree)?$/.exec(u.pathname);
    if (!m) return grpcError(res, 404, 5, 'Not Found');
    if (req.method !== 'GET') return grpcError(res, 405, 12, 'Method Not Allowed');
    const name = decodeURIComponent(m[1]);
    if (name !== appName) {
      // Since v2.6.7 Argo CD hides existence unless the caller names the project.
      if (u.searchParams.get('project') || u.searchParams.get('projects')) {
        return grpcError(res, 404, 5, `applications.argoproj.io "${name}" not found`);
      }
      return grpcError(res, 403, 7, 'permission denied');
    }
    await update();
    if (u.searchParams.get('refresh')) reconciledAt = Date.now(); // a refresh re-runs the comparison
    send(res, 200, m[2] ? resourceTree() : application());
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => grpcError(res, 500, 2, String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url, requests,
    forceHealth(status, message) { forced = message === undefined ? { status } : { status, message }; },
    clearForce() { forced = null; },
    async stop() {
      clearInterval(timer);
      await chain;
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
