import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load';
import {
  assertPreflight,
  formatPreflight,
  isPlaceholderHost,
  jwtExpiry,
  PREFLIGHT_REPORTED_ENV,
  preflight,
  PreflightError,
  type PreflightRole,
} from '../../src/config/preflight';

const NOW = Date.parse('2026-05-01T12:00:00Z');
const base = {
  repository: { owner: 'acme', name: 'shop' },
  ci: { workflow: 'ci.yml' },
  registry: { endpoint: 'https://registry.acme.io' },
  images: [{ name: 'api', repository: 'api' }],
  argocd: { server: 'https://argocd.acme.io', application: 'shop-prod' },
};
const secrets = { GITHUB_TOKEN: 'ghs_abc', ARGOCD_TOKEN: 'argo', GITHUB_WEBHOOK_SECRET: 'hook' };

/** A JWT with this payload (unsigned: only the claims matter to the preflight). */
const jwt = (payload: object) =>
  ['{"alg":"HS256"}', JSON.stringify(payload), 'sig'].map((p) => Buffer.from(p).toString('base64url')).join('.');

type Sections = Record<string, Record<string, unknown>>;

/** The base config with these sections' fields changed. */
const config = (over: Sections = {}) => {
  const raw: Record<string, unknown> = { ...base };
  for (const [section, fields] of Object.entries(over))
    raw[section] = { ...(raw[section] as Record<string, unknown> | undefined), ...fields };
  return parseConfig(raw);
};

interface Case {
  name: string;
  role?: PreflightRole;
  over?: Sections;
  env?: Record<string, string | undefined>;
  /** Each problem as `severity subject: problem` (prefix match on the problem). */
  expected: string[];
}

const cases: Case[] = [
  { name: 'a complete worker setup', expected: [] },
  {
    name: 'the worker without its tokens',
    env: { GITHUB_TOKEN: undefined, ARGOCD_TOKEN: '' },
    expected: ['error GITHUB_TOKEN: GITHUB_TOKEN is not set', 'error ARGOCD_TOKEN: ARGOCD_TOKEN is not set'],
  },
  { name: 'the worker does not need the webhook secret', env: { GITHUB_WEBHOOK_SECRET: undefined }, expected: [] },
  {
    name: 'the relay needs only the webhook secret',
    role: 'relay',
    env: { GITHUB_TOKEN: undefined, ARGOCD_TOKEN: undefined, GITHUB_WEBHOOK_SECRET: undefined },
    expected: ['error GITHUB_WEBHOOK_SECRET: GITHUB_WEBHOOK_SECRET is not set'],
  },
  {
    name: 'npm start needs all three',
    role: 'stack',
    env: { GITHUB_TOKEN: undefined, ARGOCD_TOKEN: undefined, GITHUB_WEBHOOK_SECRET: undefined },
    expected: [
      'error GITHUB_TOKEN: GITHUB_TOKEN is not set',
      'error ARGOCD_TOKEN: ARGOCD_TOKEN is not set',
      'error GITHUB_WEBHOOK_SECRET: GITHUB_WEBHOOK_SECRET is not set',
    ],
  },
  {
    name: 'a secret made with echo (trailing newline), and a blank one',
    env: { GITHUB_TOKEN: 'ghs_abc\n', ARGOCD_TOKEN: '  ' },
    expected: [
      'error GITHUB_TOKEN: GITHUB_TOKEN starts or ends with whitespace (a trailing newline)',
      'error ARGOCD_TOKEN: ARGOCD_TOKEN is blank',
    ],
  },
  {
    name: "the example's Argo CD host",
    over: { argocd: { server: 'https://argocd.example.com' } },
    expected: ['error argocd.server: argocd.server: argocd.example.com is a placeholder'],
  },
  {
    name: 'reserved names anywhere: example.org, .example, .invalid',
    over: {
      github: { apiUrl: 'https://ghe.example/api/v3' },
      registry: { endpoint: 'https://registry.invalid' },
      repository: { cloneUrl: 'https://git.example.org/acme/shop.git' },
    },
    expected: [
      'error github.apiUrl: github.apiUrl: ghe.example is a placeholder',
      'error repository.cloneUrl: repository.cloneUrl: git.example.org is a placeholder',
      'error registry.endpoint: registry.endpoint: registry.invalid is a placeholder',
    ],
  },
  {
    name: 'hosts are not checked for the relay, which never calls them',
    role: 'relay',
    over: { argocd: { server: 'https://argocd.example.com' } },
    expected: [],
  },
  {
    name: 'a value left as <placeholder>, for every role',
    role: 'relay',
    over: { repository: { owner: '<owner>' } },
    expected: ['error repository.owner: repository.owner: <owner> is a placeholder to fill in'],
  },
  {
    name: 'tokens over plain http to another host (loopback is fine)',
    over: { argocd: { server: 'http://argocd.acme.io' }, github: { apiUrl: 'http://127.0.0.1:3000' } },
    expected: ['warning argocd.server: argocd.server is plain http:// to argocd.acme.io'],
  },
  {
    name: 'an expired Argo CD token',
    env: { ARGOCD_TOKEN: jwt({ sub: 'deployer:apiKey', exp: NOW / 1000 - 60 }) },
    expected: ['error ARGOCD_TOKEN: ARGOCD_TOKEN expired at 2026-05-01T11:59:00Z'],
  },
  {
    name: 'an Argo CD token that expires within a week',
    env: { ARGOCD_TOKEN: jwt({ exp: NOW / 1000 + 2 * 86_400 }) },
    expected: ['warning ARGOCD_TOKEN: ARGOCD_TOKEN expires at 2026-05-03T12:00:00Z'],
  },
  { name: 'an Argo CD token without exp never expires', env: { ARGOCD_TOKEN: jwt({ sub: 'x' }) }, expected: [] },
  {
    name: 'half an mTLS pair',
    env: { TEMPORAL_TLS_CERT: '/certs/client.pem' },
    expected: ['error TEMPORAL_TLS_KEY: TEMPORAL_TLS_KEY is not set, but TEMPORAL_TLS_CERT is'],
  },
  {
    name: 'an ACR and no Azure credential in the environment: a warning only',
    over: { registry: { endpoint: 'https://acme.azurecr.io' } },
    expected: ['warning registry.endpoint: acme.azurecr.io is an Azure Container Registry and no Azure credential'],
  },
  {
    name: 'an ACR with workload identity',
    over: { registry: { endpoint: 'https://acme.azurecr.io' } },
    env: { AZURE_CLIENT_ID: 'c', AZURE_TENANT_ID: 't', AZURE_FEDERATED_TOKEN_FILE: '/var/run/token' },
    expected: [],
  },
  {
    name: 'an ACR with half a service principal',
    over: { registry: { endpoint: 'https://acme.azurecr.io' } },
    env: { AZURE_CLIENT_SECRET: 's', AZURE_CLIENT_ID: 'c' },
    expected: ['warning AZURE_TENANT_ID: AZURE_CLIENT_SECRET is set without AZURE_TENANT_ID'],
  },
];

describe('preflight', () => {
  test.each(cases)('$name', ({ role = 'worker', over, env = {}, expected }) => {
    const found = preflight(config(over), { ...secrets, ...env }, role, NOW);
    expect(found.map((p) => `${p.severity} ${p.subject}: ${p.problem}`)).toEqual(
      expected.map((e) => expect.stringMatching(new RegExp(`^${e.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))),
    );
    for (const p of found) expect(p.fix.length).toBeGreaterThan(10);
  });

  describe('notification sinks: each one needs its URL in NOTIFY_<NAME>_URL, an http(s) URL, never shown', () => {
    const SECRET = 'T0ACME/B0DEPLOYS/s3cr3tW3bh00kT0ken';
    const withSinks = parseConfig({
      ...base,
      notifications: [
        { name: 'deploys-slack', format: 'slack' },
        { name: 'events', format: 'cloudevents', environments: ['production'] },
      ],
    });
    const found = (env: Record<string, string>, role: PreflightRole = 'worker') =>
      preflight(withSinks, { ...secrets, ...env }, role, NOW);
    const shown = (problems: ReturnType<typeof found>) =>
      problems.map((p) => `${p.severity} ${p.subject}: ${p.problem}`);

    test('set and https: nothing to say', () => {
      expect(
        found({
          NOTIFY_DEPLOYS_SLACK_URL: `https://hooks.slack.com/services/${SECRET}`,
          NOTIFY_EVENTS_URL: 'https://events.acme.io/ingest',
        }),
      ).toEqual([]);
    });

    test.each<[string, Record<string, string>, string[]]>([
      [
        'neither set',
        {},
        [
          'error NOTIFY_DEPLOYS_SLACK_URL: NOTIFY_DEPLOYS_SLACK_URL is not set (notification sink "deploys-slack")',
          'error NOTIFY_EVENTS_URL: NOTIFY_EVENTS_URL is not set (notification sink "events")',
        ],
      ],
      [
        'blank, and not a URL',
        { NOTIFY_DEPLOYS_SLACK_URL: '  ', NOTIFY_EVENTS_URL: SECRET },
        [
          'error NOTIFY_DEPLOYS_SLACK_URL: NOTIFY_DEPLOYS_SLACK_URL is not set (notification sink "deploys-slack")',
          'error NOTIFY_EVENTS_URL: NOTIFY_EVENTS_URL is not a URL (notification sink "events")',
        ],
      ],
      [
        'another scheme, and a password in the URL',
        {
          NOTIFY_DEPLOYS_SLACK_URL: `ftp://hooks.acme.io/${SECRET}`,
          NOTIFY_EVENTS_URL: 'https://u:s3cr3tpass@acme.io/',
        },
        [
          'error NOTIFY_DEPLOYS_SLACK_URL: NOTIFY_DEPLOYS_SLACK_URL is not an http:// or https:// URL (notification sink "deploys-slack")',
          'error NOTIFY_EVENTS_URL: NOTIFY_EVENTS_URL carries a user name or password, which webhooks do not take (notification sink "events")',
        ],
      ],
      [
        'plain http to another host warns (loopback is fine); a trailing newline is trimmed',
        { NOTIFY_DEPLOYS_SLACK_URL: `http://hooks.acme.io/${SECRET}`, NOTIFY_EVENTS_URL: 'http://127.0.0.1:9000/e\n' },
        [
          'warning NOTIFY_DEPLOYS_SLACK_URL: NOTIFY_DEPLOYS_SLACK_URL is plain http:// to hooks.acme.io: the URL, the sink\'s secret, travels in clear text (notification sink "deploys-slack")',
        ],
      ],
    ])('%s', (_name, env, expected) => {
      const problems = found(env);
      expect(shown(problems)).toEqual(expected);
      const text = formatPreflight(problems, 'gitops-deployer worker');
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('s3cr3t');
      for (const p of problems) expect(p.fix).toMatch(new RegExp(`as ${p.subject}|in ${p.subject}`));
    });

    test('the fix says where the URL goes and that it is a secret', () => {
      const [slack] = found({ NOTIFY_EVENTS_URL: 'https://events.acme.io' });
      expect(slack!.fix).toBe(
        'export the webhook URL of sink "deploys-slack" (a Slack incoming webhook\'s URL, https://…) as NOTIFY_DEPLOYS_SLACK_URL; it is a secret, so it never goes in the config file',
      );
    });

    test('npm start (the worker inside) checks them; the relay, which never notifies, does not', () => {
      expect(shown(found({}, 'stack'))).toHaveLength(2);
      expect(found({}, 'relay')).toEqual([]);
    });
  });

  test("the shipped example stops a start on the example's Argo CD host", () => {
    const example = loadConfig(join(__dirname, '../../examples/deploy.config.yaml'));
    const errors = preflight(example, secrets, 'worker', NOW).filter((p) => p.severity === 'error');
    expect(errors.map((p) => p.subject)).toEqual(['argocd.server']);
  });

  test('placeholder hosts: the documentation names, not real ones that merely contain them', () => {
    for (const host of ['example.com', 'argocd.example.com', 'a.b.example.net', 'x.example', 'registry.invalid'])
      expect(isPlaceholderHost(host)).toBe(true);
    for (const host of ['myexample.com', 'example.company.io', 'github.com', 'localhost', '127.0.0.1'])
      expect(isPlaceholderHost(host)).toBe(false);
  });

  test('a token is read for its exp claim only; anything else is not a JWT', () => {
    expect(jwtExpiry(jwt({ exp: 1_700_000_000 }))).toBe(1_700_000_000_000);
    expect(jwtExpiry('ghs_notajwt')).toBeUndefined();
    expect(jwtExpiry('a.b.c')).toBeUndefined();
    expect(jwtExpiry(jwt({ exp: 'soon' }))).toBeUndefined();
  });

  test('the report: errors with their fix, warnings loudly, and where to look next; never a secret', () => {
    const found = preflight(
      config({ argocd: { server: 'https://argocd.example.com' }, registry: { endpoint: 'https://acme.azurecr.io' } }),
      { GITHUB_TOKEN: 'ghs_secretvalue\n', GITHUB_WEBHOOK_SECRET: 'hook' },
      'stack',
      NOW,
    );
    const text = formatPreflight(found, 'npm start');
    expect(text.split('\n')).toEqual([
      'npm start cannot start: 3 problems in its configuration and environment',
      '  ✖ GITHUB_TOKEN starts or ends with whitespace (a trailing newline), which the server would refuse',
      expect.stringMatching(/^ {4}fix: set it without: a Secret made with `echo` keeps the newline/),
      '  ✖ ARGOCD_TOKEN is not set',
      expect.stringMatching(/^ {4}fix: export an Argo CD API token of an account that may get application shop-prod/),
      '  ✖ argocd.server: argocd.example.com is a placeholder (a name reserved for examples), not a server',
      '    fix: set argocd.server to your Argo CD API server',
      expect.stringMatching(/^⚠ WARNING: acme\.azurecr\.io is an Azure Container Registry/),
      expect.stringMatching(/^ {4}fix: on AKS use workload identity/),
      'Nothing was started. `deployctl doctor` checks the rest: Temporal, GitHub access, the registry, Argo CD.',
    ]);
    expect(text).not.toContain('secretvalue');
  });

  test('a start with errors throws a ConfigError (exit 2) carrying the report; warnings go to the reporter once', () => {
    const bad = () => assertPreflight(config(), 'worker', { env: {}, who: 'gitops-deployer worker' });
    expect(bad).toThrow(PreflightError);
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/^gitops-deployer worker cannot start: 2 problems/);

    const acr = config({ registry: { endpoint: 'https://acme.azurecr.io' } });
    const reported: string[][] = [];
    const report = (warnings: Array<{ subject: string }>) => reported.push(warnings.map((w) => w.subject));
    assertPreflight(acr, 'worker', { env: secrets, report });
    expect(reported).toEqual([['registry.endpoint']]);
    // npm start printed them already before its build.
    assertPreflight(acr, 'worker', { env: { ...secrets, [PREFLIGHT_REPORTED_ENV]: '1' }, report });
    expect(reported).toHaveLength(1);
  });
});
