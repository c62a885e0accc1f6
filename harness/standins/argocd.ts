// Stand-in for Argo CD's ApplicationService over HTTP (grpc-gateway JSON), behaving
// like auto-syncing Applications that track branches of the test origin repo: the main
// one follows `main`; more can be added, as an ApplicationSet PR generator would.
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { git } from '../origin';

export interface KustomizeImage {
  name: string;
  newName: string;
  newTag: string;
}
export type HealthStatus = 'Healthy' | 'Progressing' | 'Degraded' | 'Missing' | 'Suspended' | 'Unknown';
export interface Health {
  status: HealthStatus;
  message?: string;
}
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
  /** The local account the token belongs to, as session/userinfo names it (default `gitops-deployer`). */
  account?: string;
}
export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}
export interface AddApplicationOptions {
  name: string;
  /** Branch to follow (`feature/x`). */
  targetRevision: string;
  /** Overlay dir or its kustomization.yaml, as for the main application. */
  overlayPath: string;
}
export interface ArgoCdStandIn {
  url: string;
  requests: LoggedRequest[];
  /** `application` defaults to the main application (opts.application). */
  forceHealth(status: HealthStatus, message?: string, application?: string): void;
  clearForce(application?: string): void;
  /** Resolves once the application has synced its branch tip (or recorded why it could not). */
  addApplication(opts: AddApplicationOptions): Promise<void>;
  removeApplication(name: string): void;
  /** The next n requests get this status (and headers) before anything else is looked at, as a proxy or an overloaded API server answers. */
  failNext(n: number, status: number, headers?: Record<string, string>, body?: unknown): void;
  stop(): Promise<void>;
}

interface Deployed {
  sha: string;
  images: KustomizeImage[];
  namespace: string;
  startedAt: string;
  finishedAt: string;
  phase: 'Succeeded' | 'Failed';
  message: string;
  health: Health;
  workloads: Array<{ name: string; image: string; health: Health; pod?: Health }>;
}
interface App {
  name: string;
  overlayFile: string;
  uid: string;
  created: string;
  source: { repoURL: string; path: string; targetRevision: string };
  destination: { server: string; namespace: string };
  history: Array<Record<string, unknown>>;
  resourceVersion: number;
  reconciledAt: number;
  forced: Health | null;
  pending: { sha: string; detectedAt: number } | null;
  current?: Deployed; // last sync; absent until the branch first resolves
  error?: { message: string; since: string }; // ComparisonError: the branch does not resolve
}

// Kubernetes metav1.Time serialises at second precision.
const ts = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const ref = (i: KustomizeImage) => `${i.newName || i.name}:${i.newTag}`;

export async function startArgoCdStandIn(opts: ArgoCdStandInOptions): Promise<ArgoCdStandIn> {
  const { token, application: mainApp, originBareDir, syncDelayMs = 300, imageExists } = opts;
  const repoURL = opts.repoURL ?? pathToFileURL(originBareDir).href;
  const requests: LoggedRequest[] = [];
  const apps = new Map<string, App>();
  const failures: Array<{ status: number; headers: Record<string, string>; body?: unknown }> = [];

  async function deploy(app: App, sha: string, startedMs: number): Promise<Deployed> {
    const { destination, current } = app;
    const base = {
      sha,
      startedAt: ts(startedMs),
      images: [] as KustomizeImage[],
      namespace: destination.namespace,
      workloads: [] as Deployed['workloads'],
    };
    let doc: { namespace?: string; images?: KustomizeImage[] };
    try {
      doc = parse(await git(originBareDir, ['show', `${sha}:${app.overlayFile}`])) ?? {};
    } catch (err) {
      // Argo reports unrenderable manifests as a failed operation and leaves the cluster alone.
      const message = `ComparisonError: Failed to load target state: ${(err as Error).message.split('\n')[0]}`;
      return {
        ...base,
        finishedAt: ts(),
        phase: 'Failed',
        message,
        health: current?.health ?? { status: 'Missing' },
        workloads: current?.workloads ?? [],
      };
    }
    const images = (doc.images ?? []).map((i) => ({
      name: i.name,
      newName: i.newName ?? i.name,
      newTag: String(i.newTag ?? 'latest'),
    }));
    const workloads = await Promise.all(
      images.map(async (i) => {
        if (await imageExists(i)) return { name: i.name, image: ref(i), health: { status: 'Healthy' as const } };
        return {
          name: i.name,
          image: ref(i),
          health: { status: 'Degraded' as const, message: `Deployment "${i.name}" exceeded its progress deadline` },
          pod: { status: 'Degraded' as const, message: `Back-off pulling image "${ref(i)}"` },
        };
      }),
    );
    const bad = workloads.find((w) => w.pod);
    const health: Health = bad
      ? { status: 'Degraded', message: `${bad.health.message}: ${bad.pod!.message} (ImagePullBackOff)` }
      : { status: 'Healthy' };
    destination.namespace = doc.namespace ?? destination.namespace;
    return {
      ...base,
      images,
      namespace: destination.namespace,
      finishedAt: ts(),
      phase: 'Succeeded',
      message: 'successfully synced (all tasks run)',
      health,
      workloads,
    };
  }
  const record = (app: App, d: Deployed) => {
    app.current = d;
    app.history.push({
      id: app.history.length,
      revision: d.sha,
      deployStartedAt: d.startedAt,
      deployedAt: d.finishedAt,
      source: app.source,
      initiatedBy: { automated: true },
    });
    app.history.splice(0, Math.max(0, app.history.length - 10)); // revisionHistoryLimit
    app.resourceVersion++;
  };

  // The repo-server resolves the branch; a missing one is a ComparisonError, not a crash.
  async function head(app: App): Promise<string | undefined> {
    const branch = app.source.targetRevision;
    try {
      const sha = (await git(originBareDir, ['rev-parse', '--verify', '-q', `refs/heads/${branch}^{commit}`])).trim();
      if (app.error) {
        app.error = undefined;
        app.resourceVersion++;
      }
      return sha;
    } catch {
      if (!app.error) {
        const message = `Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = unable to resolve '${branch}' to a commit SHA`;
        app.error = { message, since: ts() };
        app.pending = null;
        app.reconciledAt = Date.now();
        app.resourceVersion++;
      }
      return undefined;
    }
  }

  async function create({ name, targetRevision, overlayPath }: AddApplicationOptions) {
    if (apps.has(name)) throw new Error(`application ${name} exists`);
    const overlayFile = /\.ya?ml$/.test(overlayPath)
      ? overlayPath
      : `${overlayPath.replace(/\/$/, '')}/kustomization.yaml`;
    const app: App = {
      name,
      overlayFile,
      uid: randomUUID(),
      created: ts(),
      source: { repoURL, path: overlayFile.replace(/\/[^/]+$/, ''), targetRevision },
      destination: { server: 'https://kubernetes.default.svc', namespace: 'default' },
      history: [],
      resourceVersion: 1000,
      reconciledAt: Date.now(),
      forced: null,
      pending: null,
    };
    apps.set(name, app);
    const sha = await head(app);
    if (sha) record(app, await deploy(app, sha, Date.now()));
  }

  // Poll git like the repo-server does; a newer push while syncing retargets the sync.
  async function poll(app: App) {
    const sha = await head(app);
    if (!sha) return;
    if (sha === app.current?.sha) app.pending = null;
    else if (sha !== app.pending?.sha) {
      app.pending = { sha, detectedAt: Date.now() };
      app.reconciledAt = Date.now();
      app.resourceVersion++;
    }
    if (app.pending && Date.now() - app.pending.detectedAt >= syncDelayMs) {
      const next = await deploy(app, app.pending.sha, app.pending.detectedAt);
      app.pending = null;
      record(app, next);
      app.reconciledAt = Date.now();
    }
  }
  // One chain serialises polls and app creation, so a poll never sees a half-made app.
  let chain: Promise<void> = Promise.resolve();
  const after = <T>(step: () => Promise<T>) => {
    const done = chain.then(step);
    chain = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  };
  const update = () =>
    after(async () => {
      await Promise.all([...apps.values()].map((a) => poll(a).catch(() => undefined)));
    });

  await create({ name: mainApp, targetRevision: 'main', overlayPath: opts.overlayPath });
  const timer = setInterval(update, Math.max(20, Math.min(100, syncDelayMs / 3)));
  timer.unref();

  function application(app: App) {
    const cur = app.current;
    const { source, destination, forced, history } = app;
    const syncing = app.pending;
    const target = syncing?.sha ?? cur?.sha;
    const workloads = cur?.workloads ?? [];
    const namespace = cur?.namespace ?? destination.namespace;
    const progressing: Health = {
      status: 'Progressing',
      message: 'Waiting for rollout to finish: 0 out of 2 new replicas have been updated...',
    };
    // A ComparisonError leaves health as it was and sync Unknown without a revision, as Argo does.
    const syncStatus = app.error ? 'Unknown' : syncing ? 'OutOfSync' : 'Synced';
    const appHealth =
      forced ?? (syncing ? { status: 'Progressing' as const } : (cur?.health ?? { status: 'Missing' as const }));
    const operation = {
      sync: { revision: target, syncStrategy: { hook: {} } },
      initiatedBy: { automated: true },
      retry: { limit: 5 },
    };
    return {
      metadata: {
        name: app.name,
        namespace: 'argocd',
        uid: app.uid,
        resourceVersion: String(app.resourceVersion),
        generation: history.length + 1,
        creationTimestamp: app.created,
        finalizers: ['resources-finalizer.argocd.argoproj.io'],
      },
      spec: {
        source,
        destination: { ...destination },
        project: 'default',
        syncPolicy: { automated: { prune: true, selfHeal: true }, syncOptions: ['CreateNamespace=true'] },
      },
      status: {
        resources: workloads.map((w) => ({
          group: 'apps',
          version: 'v1',
          kind: 'Deployment',
          namespace,
          name: w.name,
          status: syncing ? 'OutOfSync' : 'Synced',
          health: forced ?? (syncing ? progressing : w.health),
        })),
        sync: {
          status: syncStatus,
          comparedTo: { source, destination: { ...destination } },
          ...(app.error ? {} : { revision: target }),
        },
        health: appHealth,
        history,
        reconciledAt: ts(app.reconciledAt),
        ...(app.error && {
          conditions: [{ type: 'ComparisonError', message: app.error.message, lastTransitionTime: app.error.since }],
        }),
        ...(cur && {
          operationState: syncing
            ? {
                operation,
                phase: 'Running',
                message: 'one or more tasks are running',
                startedAt: ts(syncing.detectedAt),
                syncResult: { revision: target, source },
              }
            : {
                operation,
                phase: cur.phase,
                message: cur.message,
                startedAt: cur.startedAt,
                finishedAt: cur.finishedAt,
                syncResult: {
                  revision: cur.sha,
                  source,
                  resources: workloads.map((w) => ({
                    group: 'apps',
                    version: 'v1',
                    kind: 'Deployment',
                    namespace,
                    name: w.name,
                    status: 'Synced',
                    message: `deployment.apps/${w.name} configured`,
                    hookPhase: 'Running',
                    syncPhase: 'Sync',
                  })),
                },
              },
        }),
        sourceType: 'Kustomize',
        summary: { images: (cur?.images ?? []).map(ref) },
        controllerNamespace: 'argocd',
      },
    };
  }

  // Pods are where Argo CD surfaces ImagePullBackOff, so the tree carries them.
  function resourceTree(app: App) {
    const cur = app.current;
    const nodes = (cur?.workloads ?? []).flatMap((w) => {
      const dep = {
        group: 'apps',
        version: 'v1',
        kind: 'Deployment',
        namespace: cur!.namespace,
        name: w.name,
        uid: `${w.name}-uid`,
      };
      const rs = {
        group: 'apps',
        version: 'v1',
        kind: 'ReplicaSet',
        namespace: cur!.namespace,
        name: `${w.name}-${cur!.sha.slice(0, 10)}`,
        uid: `${w.name}-rs-uid`,
      };
      const pod = {
        version: 'v1',
        kind: 'Pod',
        namespace: cur!.namespace,
        name: `${rs.name}-x7k2p`,
        uid: `${w.name}-pod-uid`,
      };
      return [
        { ...dep, health: w.health, images: [w.image], createdAt: app.created },
        { ...rs, parentRefs: [dep], health: w.pod ?? { status: 'Healthy' }, createdAt: cur!.finishedAt },
        {
          ...pod,
          parentRefs: [rs],
          images: [w.image],
          health: w.pod ?? { status: 'Healthy' },
          createdAt: cur!.finishedAt,
          info: [
            { name: 'Status Reason', value: w.pod ? 'ImagePullBackOff' : 'Running' },
            { name: 'Containers', value: w.pod ? '0/1' : '1/1' },
          ],
        },
      ];
    });
    return { nodes };
  }

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'grpc-metadata-content-type': 'application/grpc' });
    res.end(JSON.stringify(body));
  };
  // grpc-gateway error body: gRPC code + message (16 Unauthenticated, 7 PermissionDenied, 5 NotFound).
  const grpcError = (res: ServerResponse, status: number, code: number, message: string) =>
    send(res, status, { error: message, code, message });
  // The gRPC code grpc-gateway maps each HTTP status from, for failNext's default body.
  const GRPC_CODES: Record<number, [number, string]> = {
    400: [3, 'invalid argument'],
    404: [5, 'not found'],
    408: [4, 'context deadline exceeded'],
    429: [8, 'too many requests'],
    500: [13, 'internal error'],
    503: [14, 'the server is currently unable to handle the request'],
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const u = new URL(req.url ?? '/', 'http://localhost');
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      status: 0,
    };
    requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));

    const fail = failures.shift();
    if (fail) {
      const [code, message] = GRPC_CODES[fail.status] ?? [2, 'unknown'];
      res.writeHead(fail.status, { 'content-type': 'application/json', ...fail.headers });
      return res.end(JSON.stringify(fail.body ?? { error: message, code, message }));
    }

    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const cookie = /(?:^|;\s*)argocd\.token=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const presented = bearer ?? cookie;
    // SessionService.GetUserInfo answers anyone (Argo CD ignores the authentication error for it):
    // an unknown token is just not logged in, and false fields are left out of the JSON.
    if (u.pathname === '/api/v1/session/userinfo' && req.method === 'GET')
      return send(
        res,
        200,
        presented === token ? { loggedIn: true, username: opts.account ?? 'gitops-deployer', iss: 'argocd' } : {},
      );
    if (!presented) return grpcError(res, 401, 16, 'no session information');
    if (presented !== token) return grpcError(res, 401, 16, 'invalid session: token signature is invalid');

    const m = /^\/api\/v1\/applications\/([^/]+)(\/resource-tree)?$/.exec(u.pathname);
    if (!m) return grpcError(res, 404, 5, 'Not Found');
    if (req.method !== 'GET') return grpcError(res, 405, 12, 'Method Not Allowed');
    const name = decodeURIComponent(m[1]);
    const app = apps.get(name);
    if (!app) {
      // Since v2.6.7 Argo CD hides existence unless the caller names the project.
      if (u.searchParams.get('project') || u.searchParams.get('projects')) {
        return grpcError(res, 404, 5, `applications.argoproj.io "${name}" not found`);
      }
      return grpcError(res, 403, 7, 'permission denied');
    }
    await update();
    if (u.searchParams.get('refresh')) app.reconciledAt = Date.now(); // a refresh re-runs the comparison
    send(res, 200, m[2] ? resourceTree(app) : application(app));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => grpcError(res, 500, 2, String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const appNamed = (name = mainApp) => {
    const app = apps.get(name);
    if (!app) throw new Error(`no application ${name}`);
    return app;
  };

  return {
    url,
    requests,
    forceHealth(status, message, application) {
      appNamed(application).forced = message === undefined ? { status } : { status, message };
    },
    clearForce(application) {
      appNamed(application).forced = null;
    },
    addApplication: (app) => after(() => create(app)),
    removeApplication(name) {
      appNamed(name);
      apps.delete(name);
    },
    failNext(n, status, headers = {}, body) {
      for (let i = 0; i < n; i++) failures.push({ status, headers, body });
    },
    async stop() {
      clearInterval(timer);
      await chain;
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
