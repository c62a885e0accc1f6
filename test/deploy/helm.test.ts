import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { parseConfigText } from '../../src/config/load';
import { configSchema } from '../../src/config/schema';
import { SECRET_ENV as LOGGED_SECRETS } from '../../src/observe/log';

// The chart rendered by the real helm (HELM_BIN, helm on PATH, or the one scripts/tools.mjs builds into .tools/).

const ROOT = resolve(__dirname, '../..');
const CHART = join(ROOT, 'deploy/helm/gitops-deployer');
const FULL = join(CHART, 'ci/full-values.yaml');
const CLOUD = join(CHART, 'ci/temporal-cloud-values.yaml');

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
  seccompProfile?: { type: string };
}
interface Container {
  name: string;
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name: string; containerPort: number }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  securityContext?: SecurityContext;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface Volume {
  name: string;
  emptyDir?: object;
  configMap?: { name: string };
  secret?: { secretName: string };
}
interface PodSpec {
  serviceAccountName: string;
  terminationGracePeriodSeconds?: number;
  securityContext: SecurityContext;
  containers: Container[];
  volumes: Volume[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
  // Deployment, Service, PodDisruptionBudget, ServiceMonitor, Pod: only the fields these tests read.
  spec?: {
    replicas?: number;
    template?: PodTemplate;
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    maxUnavailable?: number;
    minAvailable?: number;
    ports?: Array<{ name: string; port: number; targetPort: string | number }>;
    publishNotReadyAddresses?: boolean;
    endpoints?: Array<{ port: string; path: string }>;
  } & Partial<PodSpec>;
}

interface Render {
  ok: boolean;
  stdout: string;
  stderr: string;
  manifests: Manifest[];
}

let helm: string;
let scratch: string;

beforeAll(() => {
  // A cold `go install` of helm takes minutes on a loaded 2-core machine; a cached one well under a second.
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/tools.mjs'), 'helm'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot obtain helm:\n${r.stderr}`);
  helm = (JSON.parse(r.stdout) as { helm: string }).helm;
  scratch = mkdtempSync(join(tmpdir(), 'helm-test-'));
}, 30 * 60_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let files = 0;
/** Values as a file: helm reads them exactly as a user's -f would (types included, unlike --set). */
function valuesFile(values: unknown): string {
  const path = join(scratch, `values-${++files}.yaml`);
  writeFileSync(path, stringify(values));
  return path;
}

function helmRun(args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(helm, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr };
}

function render(...sources: Array<string | object>): Render {
  const args = sources.flatMap((s) => ['-f', typeof s === 'string' ? s : valuesFile(s)]);
  const r = helmRun(['template', 'gd', CHART, '--namespace', 'deploys', ...args]);
  const manifests = r.ok
    ? parseAllDocuments(r.stdout)
        .map((doc) => doc.toJS() as Manifest | null)
        .filter((m): m is Manifest => m !== null)
    : [];
  return { ...r, manifests };
}

function rendered(...sources: Array<string | object>): Manifest[] {
  const r = render(...sources);
  if (!r.ok) throw new Error(`helm template failed:\n${r.stderr}`);
  return r.manifests;
}

function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${manifests.map((m) => `${m.kind}/${m.metadata.name}`)}`);
  return found;
}

const podSpec = (m: Manifest): PodSpec => (m.kind === 'Pod' ? (m.spec as PodSpec) : m.spec!.template!.spec);
const podLabels = (m: Manifest): Record<string, string> =>
  m.kind === 'Pod' ? m.metadata.labels! : m.spec!.template!.metadata.labels;
const pods = (manifests: Manifest[]) => manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'Pod');
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

function container(m: Manifest, name: string): Container {
  const found = podSpec(m).containers.find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name} in ${m.kind}/${m.metadata.name}`);
  return found;
}

/** A named port resolved to its number, as the kubelet does. */
function portOf(c: Container, port: string | number | undefined): number | undefined {
  return typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort;
}

const env = (c: Container, name: string) => c.env?.find((e) => e.name === name);
const argAfter = (c: Container, flag: string) => c.args?.[c.args.indexOf(flag) + 1];

const defaultValues = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as { config: Record<string, unknown> };
const fullValues = parse(readFileSync(FULL, 'utf8')) as { config: Record<string, unknown> };

// The variables the logger masks (src/observe/log.ts), and anything named like a secret (the Temporal Cloud key, a
// notification sink's URL).
const isSecretEnv = (name: string) =>
  (LOGGED_SECRETS as readonly string[]).includes(name) ||
  /(TOKEN|SECRET|PASSWORD|API_?KEY|WEBHOOK_URL)$/.test(name) ||
  /^NOTIFY_\w+_URL$/.test(name);

describe('helm lint', () => {
  test.each([
    ['default values', []],
    ['full example', ['-f', FULL]],
    ['Temporal Cloud example', ['-f', CLOUD]],
  ])('passes strictly with the %s', (_label, args) => {
    const r = helmRun(['lint', '--strict', CHART, ...args]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('0 chart(s) failed');
  });
});

describe.each([
  ['default values', [] as string[]],
  ['full example', [FULL]],
])('rendered with the %s', (_label, sources) => {
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = rendered(...sources);
  });
  const worker = () => find(manifests, 'Deployment', 'gd-gitops-deployer-worker');
  const relay = () => find(manifests, 'Deployment', 'gd-gitops-deployer-relay');

  test('every pod runs as uid 1000, non-root, read-only root, no privilege escalation, no capabilities', () => {
    expect(pods(manifests).map((m) => m.metadata.name)).toEqual(
      expect.arrayContaining(['gd-gitops-deployer-worker', 'gd-gitops-deployer-relay', 'gd-gitops-deployer-doctor']),
    );
    for (const m of pods(manifests)) {
      expect(podSpec(m).securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 1000,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      for (const c of podSpec(m).containers) {
        expect(c.securityContext).toMatchObject({
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
  });

  test('the worker: readiness /readyz and liveness /healthz on 8080, metrics on 9464, a drain inside the grace period', () => {
    const c = container(worker(), 'worker');
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(portOf(c, c.readinessProbe?.httpGet?.port)).toBe(8080);
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(portOf(c, c.livenessProbe?.httpGet?.port)).toBe(8080);
    expect(argAfter(c, '--health-address')).toBe('0.0.0.0:8080');
    expect(argAfter(c, '--metrics-address')).toBe('0.0.0.0:9464');
    expect(portOf(c, 'metrics')).toBe(9464);
    const grace = podSpec(worker()).terminationGracePeriodSeconds!;
    const drain = Number(/^(\d+)s$/.exec(argAfter(c, '--shutdown-grace') ?? '')?.[1]);
    expect(drain).toBeGreaterThan(0);
    expect(grace - drain).toBeGreaterThanOrEqual(15);
  });

  test('the relay: readiness /healthz on 8787, liveness by TCP only (a Temporal outage must not restart it)', () => {
    const c = container(relay(), 'relay');
    expect(c.readinessProbe?.httpGet?.path).toBe('/healthz');
    expect(portOf(c, c.readinessProbe?.httpGet?.port)).toBe(8787);
    expect(c.livenessProbe?.httpGet).toBeUndefined();
    expect(portOf(c, c.livenessProbe?.tcpSocket?.port)).toBe(8787);
    const service = find(manifests, 'Service', 'gd-gitops-deployer-relay');
    expect(selects(service.spec!.selector!, podLabels(relay()))).toBe(true);
    expect(service.spec!.ports![0]).toMatchObject({ targetPort: 'http' });
  });

  test('at least two workers, a PodDisruptionBudget over them, and a metrics Service that selects them', () => {
    expect(worker().spec!.replicas).toBeGreaterThanOrEqual(2);
    const pdb = find(manifests, 'PodDisruptionBudget', 'gd-gitops-deployer-worker');
    expect(selects(pdb.spec!.selector!.matchLabels!, podLabels(worker()))).toBe(true);
    expect(selects(pdb.spec!.selector!.matchLabels!, podLabels(relay()))).toBe(false);
    expect(pdb.spec!.maxUnavailable ?? pdb.spec!.minAvailable).toBeGreaterThanOrEqual(1);
    const metrics = find(manifests, 'Service', 'gd-gitops-deployer-worker-metrics');
    expect(selects(metrics.spec!.selector!, podLabels(worker()))).toBe(true);
    expect(metrics.spec!.ports).toEqual([expect.objectContaining({ name: 'metrics', port: 9464 })]);
    expect(metrics.spec!.publishNotReadyAddresses).toBe(true);
  });

  test('the ConfigMap holds the values’ config, with git.cacheDir on the emptyDir, and the worker loads it', () => {
    const values = sources.length ? fullValues : defaultValues;
    const configMap = find(manifests, 'ConfigMap', 'gd-gitops-deployer-config');
    const text = configMap.data!['deploy.config.yaml']!;
    const c = container(worker(), 'worker');
    const mount = c.volumeMounts!.find((m) => m.name === 'git-cache')!;
    // The full example overrides some of the defaults: helm merges the two, key by key.
    const merged = sources.length ? deepMerge(defaultValues.config, values.config) : values.config;
    expect(parse(text)).toEqual(deepMerge(merged, { git: { cacheDir: mount.mountPath } }));
    expect(podSpec(worker()).volumes.find((v) => v.name === 'git-cache')?.emptyDir).toBeDefined();
    // The real loader accepts it: the worker starts instead of exiting 2.
    expect(parseConfigText(text, 'deploy.config.yaml').git.cacheDir).toBe(mount.mountPath);
    // Mounted where DEPLOY_CONFIG points, in every pod.
    for (const m of pods(manifests)) {
      const main = podSpec(m).containers[0]!;
      const configMount = main.volumeMounts!.find((v) => v.name === 'config')!;
      expect(env(main, 'DEPLOY_CONFIG')?.value).toBe(`${configMount.mountPath}/deploy.config.yaml`);
      expect(podSpec(m).volumes.find((v) => v.name === 'config')?.configMap?.name).toBe(configMap.metadata.name);
      expect(env(main, 'HOME')?.value).toBe('/tmp');
      expect(main.volumeMounts!.find((v) => v.mountPath === '/tmp')).toBeDefined();
    }
  });

  test('no Secret is rendered; every secret variable comes from a secretKeyRef, each only where it is needed', () => {
    expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
    for (const m of pods(manifests)) {
      for (const c of podSpec(m).containers) {
        for (const e of c.env!.filter((e) => isSecretEnv(e.name))) {
          expect({ [e.name]: e.value }).toEqual({ [e.name]: undefined });
          expect(e.valueFrom?.secretKeyRef?.key).toBeTruthy();
          expect(e.valueFrom?.secretKeyRef?.name).toBeTruthy();
        }
      }
    }
    const names = (m: Manifest) => podSpec(m).containers[0]!.env!.map((e) => e.name);
    expect(names(worker())).toEqual(expect.arrayContaining(['GITHUB_TOKEN', 'ARGOCD_TOKEN']));
    expect(names(worker())).not.toContain('GITHUB_WEBHOOK_SECRET');
    expect(names(relay())).toContain('GITHUB_WEBHOOK_SECRET');
    expect(names(relay())).not.toEqual(expect.arrayContaining(['GITHUB_TOKEN']));
    expect(names(relay())).not.toEqual(expect.arrayContaining(['ARGOCD_TOKEN']));
  });

  test('a config change rolls the pods (checksum annotation)', () => {
    const changed = rendered(...sources, { config: { ci: { timeout: '20m' } } });
    for (const name of ['gd-gitops-deployer-worker', 'gd-gitops-deployer-relay']) {
      const before = find(manifests, 'Deployment', name).spec!.template!.metadata.annotations!['checksum/config'];
      const after = find(changed, 'Deployment', name).spec!.template!.metadata.annotations!['checksum/config'];
      expect(before).toMatch(/^[0-9a-f]{64}$/);
      expect(after).not.toBe(before);
    }
  });
});

describe('workload identity', () => {
  test('the worker’s ServiceAccount carries the client ID, its pods (and helm test’s) the label; the relay neither', () => {
    const manifests = rendered(FULL);
    const worker = find(manifests, 'Deployment', 'gd-gitops-deployer-worker');
    const relay = find(manifests, 'Deployment', 'gd-gitops-deployer-relay');
    const doctor = find(manifests, 'Pod', 'gd-gitops-deployer-doctor');
    const account = find(manifests, 'ServiceAccount', podSpec(worker).serviceAccountName);
    expect(account.metadata.annotations).toMatchObject({
      'azure.workload.identity/client-id': '00000000-1111-2222-3333-444444444444',
      'azure.workload.identity/tenant-id': '55555555-6666-7777-8888-999999999999',
      'example.com/owner': 'platform-team',
    });
    expect(podLabels(worker)['azure.workload.identity/use']).toBe('true');
    expect(podLabels(doctor)['azure.workload.identity/use']).toBe('true');
    expect(podSpec(doctor).serviceAccountName).toBe(account.metadata.name);
    expect(podLabels(relay)['azure.workload.identity/use']).toBeUndefined();
    const relayAccount = find(manifests, 'ServiceAccount', podSpec(relay).serviceAccountName);
    expect(relayAccount.metadata.name).not.toBe(account.metadata.name);
    expect(relayAccount.metadata.annotations?.['azure.workload.identity/client-id']).toBeUndefined();
  });

  test('off by default: no annotation, no label', () => {
    const manifests = rendered();
    const worker = find(manifests, 'Deployment', 'gd-gitops-deployer-worker');
    const account = find(manifests, 'ServiceAccount', podSpec(worker).serviceAccountName);
    expect(account.metadata.annotations?.['azure.workload.identity/client-id']).toBeUndefined();
    expect(podLabels(worker)['azure.workload.identity/use']).toBeUndefined();
  });

  test('enabled without a client ID is refused, naming the value to set', () => {
    const r = render({ azure: { workloadIdentity: { enabled: true } } });
    expect(r.ok).toBe(false);
    expect(r.stderr).toContain('azure.workloadIdentity.enabled needs azure.workloadIdentity.clientId');
  });
});

describe('Temporal connection', () => {
  test('mTLS: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY name files of the mounted client-certificate Secret', () => {
    const worker = find(rendered(FULL), 'Deployment', 'gd-gitops-deployer-worker');
    const c = container(worker, 'worker');
    const volume = podSpec(worker).volumes.find((v) => v.secret?.secretName === 'gitops-deployer-temporal-client')!;
    const mount = c.volumeMounts!.find((m) => m.name === volume.name)!;
    expect(env(c, 'TEMPORAL_TLS_CERT')?.value).toBe(`${mount.mountPath}/tls.crt`);
    expect(env(c, 'TEMPORAL_TLS_KEY')?.value).toBe(`${mount.mountPath}/tls.key`);
    expect(env(c, 'TEMPORAL_ADDRESS')?.value).toBe('temporal-frontend.temporal.svc.cluster.local:7233');
    expect(env(c, 'TEMPORAL_NAMESPACE')?.value).toBe('deploys');
  });

  test('Temporal Cloud: the API key and a service principal’s secret only by reference', () => {
    const manifests = rendered(CLOUD);
    const worker = container(find(manifests, 'Deployment', 'gd-gitops-deployer-worker'), 'worker');
    const relay = container(find(manifests, 'Deployment', 'gd-gitops-deployer-relay'), 'relay');
    for (const c of [worker, relay]) {
      expect(env(c, 'TEMPORAL_API_KEY')).toEqual({
        name: 'TEMPORAL_API_KEY',
        valueFrom: { secretKeyRef: { name: 'temporal-cloud', key: 'api-key' } },
      });
    }
    expect(env(worker, 'AZURE_CLIENT_SECRET')).toEqual({
      name: 'AZURE_CLIENT_SECRET',
      valueFrom: { secretKeyRef: { name: 'gitops-deployer-sp', key: 'client-secret' } },
    });
    expect(env(worker, 'AZURE_CLIENT_ID')?.value).toBe('00000000-1111-2222-3333-444444444444');
    expect(env(relay, 'AZURE_CLIENT_SECRET')).toBeUndefined();
    expect(argAfter(worker, '--metrics-address')).toBe('off');
    expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
  });
});

describe('notification sinks (issue 12)', () => {
  const slack = { name: 'deploys-slack', format: 'slack' };
  const audit = { name: 'audit', format: 'cloudevents' };
  const containers = (manifests: Manifest[]) => ({
    worker: container(find(manifests, 'Deployment', 'gd-gitops-deployer-worker'), 'worker'),
    doctor: container(find(manifests, 'Pod', 'gd-gitops-deployer-doctor'), 'doctor'),
    relay: container(find(manifests, 'Deployment', 'gd-gitops-deployer-relay'), 'relay'),
  });
  const ref = (variable: string, name: string, key: string) => ({
    name: variable,
    valueFrom: { secretKeyRef: { name, key } },
  });

  test('each sink’s URL reaches the worker and helm test’s doctor by secretKeyRef, never the relay', () => {
    const manifests = rendered({
      config: { notifications: [slack, audit] },
      secrets: {
        existingSecret: 'tokens',
        notifications: [{ name: 'deploys-slack' }, { name: 'audit', secretName: 'audit-sink', key: 'url' }],
      },
    });
    const { worker, doctor, relay } = containers(manifests);
    for (const c of [worker, doctor]) {
      // Defaults: secrets.existingSecret, and the variable's own name as the key.
      expect(env(c, 'NOTIFY_DEPLOYS_SLACK_URL')).toEqual(
        ref('NOTIFY_DEPLOYS_SLACK_URL', 'tokens', 'NOTIFY_DEPLOYS_SLACK_URL'),
      );
      expect(env(c, 'NOTIFY_AUDIT_URL')).toEqual(ref('NOTIFY_AUDIT_URL', 'audit-sink', 'url'));
    }
    expect(relay.env!.filter((e) => e.name.startsWith('NOTIFY_'))).toEqual([]);
    expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
  });

  test('without secrets.existingSecret the reference names the release’s Secret', () => {
    const { worker } = containers(
      rendered({ config: { notifications: [slack] }, secrets: { notifications: [{ name: 'deploys-slack' }] } }),
    );
    expect(env(worker, 'NOTIFY_DEPLOYS_SLACK_URL')?.valueFrom?.secretKeyRef?.name).toBe('gd-gitops-deployer');
  });

  test('the full example turns every report on, and the worker’s own loader accepts its config', () => {
    const manifests = rendered(FULL);
    const text = find(manifests, 'ConfigMap', 'gd-gitops-deployer-config').data!['deploy.config.yaml']!;
    const config = parseConfigText(text, 'deploy.config.yaml');
    expect(config.environment.githubDeployments).toBe(true);
    expect(config.preview).toMatchObject({ githubDeployments: true, comment: true });
    expect(config.temporal.uiUrl).toMatch(/^https:\/\//);
    expect(config.notifications.map((n) => n.name)).toEqual(['deploys-slack', 'audit']);
    // "on", quoted in the values, survives helm's YAML 1.1 as a key rather than turning into true.
    expect(config.notifications[0]!.on).toEqual(['succeeded', 'failed', 'rolled-back', 'held']);
    const { worker, relay } = containers(manifests);
    expect(env(worker, 'NOTIFY_DEPLOYS_SLACK_URL')?.valueFrom?.secretKeyRef).toBeDefined();
    expect(env(worker, 'NOTIFY_AUDIT_URL')?.valueFrom?.secretKeyRef).toBeDefined();
    expect(relay.env!.filter((e) => e.name.startsWith('NOTIFY_'))).toEqual([]);
  });

  test('a sink in the config without a reference is refused at install, naming its variable and the fix', () => {
    const r = render({ config: { notifications: [slack, audit] }, secrets: { notifications: [{ name: 'audit' }] } });
    expect(r.ok).toBe(false);
    expect(r.stderr).toContain(
      'config.notifications "deploys-slack": the worker reads its URL from NOTIFY_DEPLOYS_SLACK_URL, which nothing sets',
    );
    expect(r.stderr).toContain('to secrets.notifications');
  });

  test('a sink’s URL may come from worker.extraEnv by valueFrom instead, but not from both', () => {
    const fromEnv = {
      config: { notifications: [slack] },
      worker: { extraEnv: [ref('NOTIFY_DEPLOYS_SLACK_URL', 'chat', 'slack-url')] },
    };
    const { worker, relay } = containers(rendered(fromEnv));
    expect(env(worker, 'NOTIFY_DEPLOYS_SLACK_URL')).toEqual(ref('NOTIFY_DEPLOYS_SLACK_URL', 'chat', 'slack-url'));
    expect(env(relay, 'NOTIFY_DEPLOYS_SLACK_URL')).toBeUndefined();
    const both = render(fromEnv, { secrets: { notifications: [{ name: 'deploys-slack' }] } });
    expect(both.ok).toBe(false);
    expect(both.stderr).toContain('NOTIFY_DEPLOYS_SLACK_URL is set twice, by secrets.notifications and by extraEnv');
  });

  test('a sink referenced twice is refused', () => {
    const r = render({
      config: { notifications: [slack] },
      secrets: { notifications: [{ name: 'deploys-slack' }, { name: 'deploys-slack', key: 'other' }] },
    });
    expect(r.ok).toBe(false);
    expect(r.stderr).toContain('secrets.notifications: "deploys-slack" is listed twice');
  });

  test('a bare `on:` (YAML 1.1’s true) is refused with the quoting fix, not a puzzling schema error', () => {
    const path = join(scratch, 'bare-on.yaml');
    writeFileSync(
      path,
      [
        'config:',
        '  notifications:',
        '    - name: deploys-slack',
        '      format: slack',
        '      on: [failed]',
        'secrets:',
        '  notifications: [{ name: deploys-slack }]',
        '',
      ].join('\n'),
    );
    const r = render(path);
    expect(r.ok).toBe(false);
    expect(r.stderr).toContain('config.notifications "deploys-slack": write "on" in quotes');
  });
});

describe('a secret put where it does not belong', () => {
  // Distinct per case, shaped like the real thing, so an echo anywhere would be found.
  const token = (n: number) => `ghp_${'S3cr3tT0k3n'.repeat(3)}${n}`;
  const schema =
    (pointer: string, ...words: string[]) =>
    (stderr: string) =>
      expectSchemaError(stderr, pointer, ...words);
  const template = (message: RegExp) => (stderr: string) => expect(stderr).toMatch(message);
  test.each<[string, (secret: string) => object, (stderr: string) => void]>([
    ['in the config', (s) => ({ config: { github: { token: s } } }), schema('/config/github', 'token')],
    ['in the config, deeper', (s) => ({ config: { argocd: { password: s } } }), schema('/config/argocd', 'password')],
    [
      'as a value beside a reference',
      (s) => ({ secrets: { githubToken: { value: s } } }),
      schema('/secrets/githubToken', 'value'),
    ],
    ['as the Temporal API key itself', (s) => ({ temporal: { apiKey: s } }), schema('/temporal/apiKey', 'object')],
    [
      'as the service principal secret itself',
      (s) => ({ azure: { servicePrincipal: { clientSecret: s } } }),
      schema('/azure/servicePrincipal/clientSecret', 'object'),
    ],
    [
      'in extraEnv',
      (s) => ({ extraEnv: [{ name: 'GITHUB_TOKEN', value: s }] }),
      template(/extraEnv: GITHUB_TOKEN looks like a secret: take it from a Secret \(valueFrom.secretKeyRef\)/),
    ],
    [
      'in worker.extraEnv',
      (s) => ({ worker: { extraEnv: [{ name: 'ARGOCD_TOKEN', value: s }] } }),
      template(/worker\.extraEnv: ARGOCD_TOKEN looks like a secret/),
    ],
    [
      'in relay.extraEnv',
      (s) => ({ relay: { extraEnv: [{ name: 'GITHUB_WEBHOOK_SECRET', value: s }] } }),
      template(/relay\.extraEnv: GITHUB_WEBHOOK_SECRET looks like a secret/),
    ],
    [
      'in worker.extraEnv, as a notification sink’s URL',
      (s) => ({ worker: { extraEnv: [{ name: 'NOTIFY_DEPLOYS_SLACK_URL', value: `https://hooks.slack.com/${s}` }] } }),
      template(/worker\.extraEnv: NOTIFY_DEPLOYS_SLACK_URL looks like a secret/),
    ],
    [
      'as a notification sink’s URL in the config',
      (s) => ({
        config: { notifications: [{ name: 'deploys-slack', format: 'slack', url: `https://hooks.slack.com/${s}` }] },
        secrets: { notifications: [{ name: 'deploys-slack' }] },
      }),
      schema('/config/notifications/0', 'url'),
    ],
    [
      'as a URL beside a sink’s reference',
      (s) => ({ secrets: { notifications: [{ name: 'deploys-slack', url: `https://hooks.slack.com/${s}` }] } }),
      schema('/secrets/notifications/0', 'url'),
    ],
    [
      'as a value beside a sink’s reference',
      (s) => ({ secrets: { notifications: [{ name: 'deploys-slack', key: 'url', value: s }] } }),
      schema('/secrets/notifications/0', 'value'),
    ],
    [
      'in the clone URL',
      (s) => ({ config: { repository: { cloneUrl: `https://x-access-token:${s}@github.com/o/r.git` } } }),
      template(/config\.repository\.cloneUrl must not carry credentials: put the token in the Secret/),
    ],
  ])('%s: refused, and the refusal does not repeat it', (_where, values, check) => {
    const secret = token(++files);
    const r = render(values(secret));
    expect(r.ok).toBe(false);
    check(r.stderr);
    expect(r.stdout + r.stderr).not.toContain(secret);
  });

  test('the renders that succeed contain no token-shaped string', () => {
    for (const sources of [[], [FULL], [CLOUD]]) {
      const r = render(...sources);
      expect(r.ok).toBe(true);
      expect(r.stdout).not.toMatch(/gh[pousr]_[A-Za-z0-9]{10,}|-----BEGIN|x-access-token/);
    }
  });

  test('an ssh clone URL with only a user name is fine', () => {
    const r = render({ config: { repository: { cloneUrl: 'ssh://git@github.com/o/r.git' } } });
    expect(r.stderr).toBe('');
    expect(r.ok).toBe(true);
  });
});

describe('values.schema.json', () => {
  test.each<[string, object, string, string[]]>([
    ['a replica count in words', { worker: { replicas: 'two' } }, '/worker/replicas', ['string', 'integer']],
    ['an unknown top-level key', { replicas: 2 }, '', ['replicas']],
    ['a duration without its unit', { config: { ci: { timeout: 60 } } }, '/config/ci/timeout', ['string']],
    ['a log level that does not exist', { logging: { level: 'verbose' } }, '/logging/level', []],
    ['the git cache set in the config', { config: { git: { cacheDir: '/x' } } }, '/config/git', ['cacheDir']],
    ['a config without its required sections', { config: { argocd: null } }, '/config', ['argocd']],
    [
      'a preview URL without {number}',
      { config: { preview: { application: 'app-{number}', url: 'https://preview.example.com' } } },
      '/config/preview/url',
      [],
    ],
    [
      'a Temporal UI address that is not a URL',
      { config: { temporal: { uiUrl: 'temporal:8080' } } },
      '/config/temporal/uiUrl',
      [],
    ],
    [
      'a notification format that does not exist',
      {
        config: { notifications: [{ name: 'chat', format: 'teams' }] },
        secrets: { notifications: [{ name: 'chat' }] },
      },
      '/config/notifications/0/format',
      [],
    ],
    [
      'a sink reference named unlike a sink',
      { secrets: { notifications: [{ name: 'Deploys_Slack' }] } },
      '/secrets/notifications/0/name',
      [],
    ],
    [
      'a malformed client ID',
      { azure: { workloadIdentity: { clientId: 'not-a-guid' } } },
      '/azure/workloadIdentity/clientId',
      [],
    ],
  ])('rejects %s, naming the value', (_label, values, pointer, words) => {
    const r = render(values);
    expect(r.ok).toBe(false);
    expectSchemaError(r.stderr, pointer, ...words);
  });

  test('a drain that would not fit inside the grace period is refused', () => {
    const r = render({ worker: { terminationGracePeriodSeconds: 10, shutdownMarginSeconds: 15 } });
    expect(r.ok).toBe(false);
    expect(r.stderr).toContain('worker.shutdownMarginSeconds (15) must be less than');
  });

  test('knows every field of the worker’s config schema, and requires what the worker requires', () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as ChartSchema;
    const chart = schema.properties.config;
    const sections = Object.entries(configSchema.shape).map(([name, section]) => [name, unwrap(section)] as const);
    expect(Object.keys(chart.properties).sort()).toEqual(sections.map(([name]) => name).sort());
    for (const [name, section] of sections) {
      const fields = section.def.type === 'array' ? unwrap(section.def.element!).shape : section.shape;
      const inChart = chart.properties[name]!;
      const chartFields = inChart.type === 'array' ? inChart.items!.properties : inChart.properties;
      // The chart owns git.cacheDir (the emptyDir's mount path). The worker names a sink's url only to refuse it
      // (it is a secret); the chart refuses it as an unknown key.
      const expected = Object.keys(fields ?? {}).filter(
        (f) => !(name === 'git' && f === 'cacheDir') && !(name === 'notifications' && f === 'url'),
      );
      expect({ [name]: Object.keys(chartFields ?? {}).sort() }).toEqual({ [name]: expected.sort() });
    }
    const required = Object.entries(configSchema.shape)
      .filter(([, section]) => !['default', 'optional'].includes((section as ZodLike).def.type))
      .map(([name]) => name);
    expect([...chart.required].sort()).toEqual(required.sort());
  });
});

test('the default config is the example’s, without previews and with the chart’s git.cacheDir', () => {
  const example = parse(readFileSync(join(ROOT, 'examples/deploy.config.yaml'), 'utf8')) as Record<string, unknown>;
  const { preview: _preview, git, ...rest } = example as { preview: unknown; git: Record<string, unknown> };
  const { cacheDir: _cacheDir, ...gitWithoutCache } = git;
  expect(defaultValues.config).toEqual({ ...rest, git: gitWithoutCache });
});

test('the chart’s README documents every value (itself or a section holding it)', () => {
  const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
  // The first cell of each table row names one or more keys: | `a.b`, `a.c` | default | meaning |
  const firstCells = [...readme.matchAll(/^\| (`[^|]+) \|/gm)].map((m) => m[1]!);
  const documented = new Set(firstCells.flatMap((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1])));
  const covered = (path: string) =>
    path.split('.').some((_, i, parts) => documented.has(parts.slice(0, i + 1).join('.')));
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
  expect(leafPaths(values).filter((path) => !covered(path))).toEqual([]);
});

/**
 * A schema refusal that names the value at `pointer` ('' for the top level) and the given words. Helm 4 (and
 * 3.18+) write `at '/worker/replicas': got string, want integer`; older Helm 3 `worker.replicas: Invalid type.
 * Expected: integer, given: string`.
 */
function expectSchemaError(stderr: string, pointer: string, ...words: string[]): void {
  expect(stderr).toContain("values don't meet the specifications of the schema");
  if (pointer) {
    const named = [`'${pointer}'`, `${pointer.slice(1).replaceAll('/', '.')}:`].filter((form) => stderr.includes(form));
    expect({ stderr, named: named.length > 0 }).toEqual({ stderr, named: true });
  }
  for (const word of words) expect(stderr).toContain(word);
}

/** Dotted paths of values.yaml's leaves; `config` is documented as one (its fields are the worker's). */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (prefix === 'config' || value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  const entries = Object.entries(value);
  if (!entries.length) return [prefix];
  return entries.flatMap(([key, child]) => leafPaths(child, prefix ? `${prefix}.${key}` : key));
}

/** Helm's merge of values: maps key by key, anything else replaced. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    if (value === null) delete out[key];
    else out[key] = isMap(current) && isMap(value) ? deepMerge(current, value) : value;
  }
  return out;
}
const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  required?: string[];
}
interface ChartSchema {
  properties: { config: Required<Pick<JsonSchema, 'properties' | 'required'>> };
}
interface ZodLike {
  def: { type: string; innerType?: ZodLike; in?: ZodLike; element?: ZodLike };
  shape?: Record<string, unknown>;
}
/** The object or array inside zod's default/optional/pipe wrappers. */
function unwrap(schema: unknown): ZodLike {
  let s = schema as ZodLike;
  while (['default', 'optional', 'nullable', 'pipe'].includes(s.def.type)) s = (s.def.innerType ?? s.def.in)!;
  return s;
}
