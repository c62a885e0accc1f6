import { parseConfig } from '../../src/config/load';
import { applicationOutcome, checkPreviewTemplates } from '../../src/doctor/argocd';
import { CHECK_IDS, type CheckReport, type DoctorReport } from '../../src/doctor/check';
import { formatCheck, formatSummary } from '../../src/doctor/format';
import { receivePackProblem, restPushProblem, type RepositoryFacts } from '../../src/doctor/github-push';
import { githubTokenKind, rateLimitOutcome } from '../../src/doctor/github-token';
import { overlayOutcome, previewOverlayProblem } from '../../src/doctor/overlay';
import { searchAttributesOutcome } from '../../src/doctor/temporal';

const report = (over: Partial<CheckReport>): CheckReport => ({
  id: 'github-token',
  title: 'GitHub token',
  status: 'pass',
  summary: 'GITHUB_TOKEN present',
  details: [],
  durationMs: 12,
  ...over,
});

describe('doctor output', () => {
  test('a passing check is one line: mark, title padded to the longest, what was found', () => {
    expect(formatCheck(report({}))).toBe('✔ GitHub token          GITHUB_TOKEN present');
  });

  test('a failure: its details, then the fix, under the summary; a slow check says how long it took', () => {
    const text = formatCheck(
      report({
        id: 'registry',
        title: 'Registry',
        status: 'fail',
        summary: 'the registry has no r.io/api:sha-1234567',
        details: ['images[0]: api → repository api'],
        fix: 'check images[].repository\nor push the image',
        durationMs: 2_345,
      }),
    );
    expect(text.split('\n')).toEqual([
      '✖ Registry              the registry has no r.io/api:sha-1234567 (2.3s)',
      '                        images[0]: api → repository api',
      '                        fix: check images[].repository',
      '                             or push the image',
    ]);
  });

  test('a warning and a skip have their own marks', () => {
    expect(formatCheck(report({ status: 'warn', summary: 'low', fix: 'wait' }))).toBe(
      '⚠ GitHub token          low\n                        fix: wait',
    );
    expect(formatCheck(report({ status: 'skip', summary: 'skipped: needs Temporal, which did not pass' }))).toBe(
      '– GitHub token          skipped: needs Temporal, which did not pass',
    );
  });

  const doctorReport = (statuses: CheckReport['status'][]): DoctorReport => ({
    ok: statuses.every((s) => s === 'pass' || s === 'warn'),
    configPath: 'deploy.config.yaml',
    checks: statuses.map((status, i) => report({ id: CHECK_IDS[i], status })),
  });

  test.each([
    [['pass', 'pass', 'pass'], 'doctor: all 3 checks passed'],
    [['pass', 'warn', 'pass'], 'doctor: all 3 checks passed (1 warning)'],
    [['pass', 'fail', 'skip', 'skip', 'warn'], 'doctor: 1 problem, 1 warning, 1 passed, 2 skipped'],
    [['fail', 'fail', 'pass'], 'doctor: 2 problems, 1 passed'],
  ] as const)('summary of %j: %s', (statuses, line) => {
    expect(formatSummary(doctorReport([...statuses]))).toBe(line);
  });
});

describe('GitHub token types and push access', () => {
  test.each([
    ['ghs_16C7e42F292c6912E7710c838347Ae178B4a', 'app-installation', 'GitHub App installation token (ghs_…)'],
    ['github_pat_11ABCDEFG0123456789_abcdef', 'fine-grained', 'fine-grained personal access token (github_pat_…)'],
    ['ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'classic', 'classic personal access token (ghp_…)'],
    ['gho_abc', 'oauth', 'OAuth app token (gho_…)'],
    ['ghu_abc', 'app-user', 'GitHub App user token (ghu_…)'],
    ['0123456789abcdef0123456789abcdef01234567', 'unknown', 'token without a GitHub type prefix'],
  ])('%s: kind %s, shown by its prefix only', (token, kind, label) => {
    expect(githubTokenKind(token)).toEqual({ kind, label });
    expect(label).not.toContain(token.slice(4, 12));
  });

  const facts = (over: Partial<RepositoryFacts>): RepositoryFacts => ({
    kind: 'classic',
    scopes: ['repo'],
    isPrivate: true,
    push: true,
    ...over,
  });
  test.each([
    ['classic with repo, may push', facts({}), undefined],
    [
      'classic with public_repo on a public repository',
      facts({ scopes: ['public_repo'], isPrivate: false }),
      undefined,
    ],
    ['classic with public_repo on a private repository', facts({ scopes: ['public_repo'] }), /lacks the repo scope/],
    ['classic without scopes', facts({ scopes: [] }), /its scopes: none/],
    ['classic whose user may not push', facts({ push: false }), /user may not push .*permissions\.push is false/],
    [
      'fine-grained whose user may not push',
      facts({ kind: 'fine-grained', scopes: undefined, push: false }),
      /may not push/,
    ],
    [
      'fine-grained whose user may push: REST cannot tell more',
      facts({ kind: 'fine-grained', scopes: undefined }),
      undefined,
    ],
    // An installation acts as no user: permissions.push is not its answer.
    [
      'App installation, permissions.push false',
      facts({ kind: 'app-installation', scopes: undefined, push: false }),
      undefined,
    ],
  ])('%s', (_name, given, problem) => {
    const found = restPushProblem(given, 'acme/shop');
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found?.problem).toMatch(problem);
  });

  test.each([
    [{ status: 200 }, 'app-installation', undefined],
    [{ status: 403 }, 'app-installation', /Contents: Read and write \(the installation must accept it\)/],
    [{ status: 403 }, 'fine-grained', /Repository permissions → Contents: Read and write/],
    [{ status: 403 }, 'classic', /repo scope/],
    [{ status: 401 }, 'classic', /must also work for git over HTTPS/],
    [{ status: 404 }, 'classic', /check repository.cloneUrl/],
    [{ error: 'SELF_SIGNED_CERT_IN_CHAIN' }, 'classic', /GIT_SSL_CAINFO/],
    [{ error: 'ECONNREFUSED' }, 'classic', /network path/],
  ] as const)('git answers %j to a %s token', (answer, kind, fix) => {
    const found = receivePackProblem({ probed: true, ...answer }, 'https://github.com/acme/shop.git', kind);
    if (fix === undefined) expect(found).toBeUndefined();
    else expect(found?.fix).toMatch(fix);
  });
});

describe('what the checks conclude', () => {
  const NOW = Date.parse('2026-05-01T12:00:00Z');
  test.each([
    [
      { limit: 5000, remaining: 4990, resetAt: NOW + 30 * 60_000 },
      'pass',
      '4990 of 5000 requests left this hour, resets at 12:30 UTC (in 30 min)',
    ],
    [
      { limit: 5000, remaining: 120, resetAt: NOW + 60_000 },
      'warn',
      '120 of 5000 requests left this hour, resets at 12:01 UTC (in 1 min)',
    ],
    [
      { limit: 5000, remaining: 0, resetAt: NOW + 59_000 },
      'warn',
      '0 of 5000 requests left this hour, resets at 12:00 UTC (in 1 min)',
    ],
  ] as const)('rate limit %j: %s', (rate, status, summary) => {
    expect(rateLimitOutcome(rate, NOW)).toMatchObject({ status, summary });
  });

  const app = (
    source: object,
    status = { sync: { status: 'Synced', revision: 'abcdef1234' }, health: { status: 'Healthy' } },
  ) => ({
    spec: { project: 'default', source },
    status,
  });
  const needs = { application: 'shop-prod', overlayPath: 'k8s/overlays/prod/kustomization.yaml', mainBranch: 'main' };
  test.each([
    [
      'renders the overlay directory from main',
      app({ path: 'k8s/overlays/prod', targetRevision: 'main' }),
      'pass',
      'shop-prod (project default): Synced at abcdef1, Healthy',
    ],
    [
      'a ./ path and HEAD',
      app({ path: './k8s/overlays/prod/', targetRevision: 'HEAD' }),
      'pass',
      'shop-prod (project default): Synced at abcdef1, Healthy',
    ],
    [
      'another directory',
      app({ path: 'k8s/overlays/staging', targetRevision: 'main' }),
      'warn',
      /renders k8s\/overlays\/staging, not k8s\/overlays\/prod$/,
    ],
    [
      'another branch',
      app({ path: 'k8s/overlays/prod', targetRevision: 'release' }),
      'warn',
      /tracks release, not main$/,
    ],
    ['has no status yet', { spec: { source: { path: 'k8s/overlays/prod' } } }, 'pass', 'shop-prod: Unknown, Unknown'],
    [
      'is Degraded now',
      app(
        { path: 'k8s/overlays/prod' },
        { sync: { status: 'Synced', revision: 'abcdef1234' }, health: { status: 'Degraded' } },
      ),
      'warn',
      'shop-prod (project default): Synced at abcdef1, Degraded: production is Degraded now',
    ],
    [
      'is Progressing (a sync under way)',
      app(
        { path: 'k8s/overlays/prod' },
        { sync: { status: 'OutOfSync', revision: 'abcdef1234' }, health: { status: 'Progressing' } },
      ),
      'pass',
      'shop-prod (project default): OutOfSync at abcdef1, Progressing',
    ],
  ])('Argo CD application that %s', (_name, given, status, summary) => {
    expect(applicationOutcome(given, needs)).toMatchObject({
      status,
      summary: typeof summary === 'string' ? summary : expect.stringMatching(summary),
    });
  });

  const argocd = { server: 'https://argocd.acme.io', application: 'shop-prod', syncTimeout: 1 };
  const preview = (application: string, branch?: string) => ({
    application,
    branch,
    overlayPath: 'p',
    searchDepth: 30,
    githubDeployments: false,
    comment: false,
  });
  test.each([
    ['not configured', undefined, 'pass', 'not configured: pull_request events are ignored'],
    ['a template', preview('shop-pr-{number}'), 'pass', 'shop-pr-{number}: pull request 7 → shop-pr-7'],
    [
      'a template close to production but never it',
      preview('shop-prod{number}'),
      'pass',
      'shop-prod{number}: pull request 7 → shop-prod7',
    ],
    [
      'names too long for a label',
      preview(`${'a'.repeat(58)}-{number}`),
      'warn',
      /; but #99999's is 64 characters, more than a label value's 63$/,
    ],
  ])('preview template: %s', (_name, given, status, summary) => {
    const found = checkPreviewTemplates({ preview: given, argocd });
    expect(found).toMatchObject({
      status,
      summary: typeof summary === 'string' ? summary : expect.stringMatching(summary),
    });
  });

  test('a preview template that can name the production application fails', () => {
    const found = checkPreviewTemplates({
      preview: preview('shop-prod-{number}'),
      argocd: { ...argocd, application: 'shop-prod-1' },
    });
    expect(found).toMatchObject({ status: 'fail', summary: expect.stringContaining('would deploy over production') });
  });

  const images = [
    { name: 'api', repository: 'api' },
    { name: 'workers', repository: 'workers' },
  ];
  const facts = {
    path: 'k8s/overlays/prod/kustomization.yaml',
    mainBranch: 'main',
    commit: 'abc1234def',
    images,
    registryHost: 'r.io',
  };
  const overlay = (entries: string) => `resources:\n  - ../../base\nimages:\n${entries}`;
  const entry = (name: string, tag: string, newName = `r.io/${name}`) =>
    `  - name: ${name}\n    newName: ${newName}\n    newTag: ${tag}\n`;
  test.each([
    [
      'every image at one SHA tag',
      overlay(entry('api', 'sha-1234567') + entry('workers', 'sha-1234567')),
      'pass',
      'k8s/overlays/prod/kustomization.yaml at main (abc1234): 2 images at sha-1234567',
    ],
    ['an image without an entry', overlay(entry('api', 'sha-1234567')), 'fail', /has no images entry named "workers"$/],
    [
      'latest',
      overlay(entry('api', 'latest') + entry('workers', 'latest')),
      'fail',
      /Production using 'latest' tag for api/,
    ],
    [
      'two tags',
      overlay(entry('api', 'sha-1234567') + entry('workers', 'sha-7654321')),
      'fail',
      /run different tags \(sha-1234567, sha-7654321\)/,
    ],
    [
      'another repository name',
      overlay(entry('api', 'sha-1234567', 'old.io/api') + entry('workers', 'sha-1234567')),
      'warn',
      /rewrites newName of api$/,
    ],
    ['not YAML', 'images: [', 'fail', /kustomization is not valid YAML/],
    ['no images list', 'resources: []\n', 'fail', /has no `images:` list/],
  ])('overlay with %s', (_name, text, status, summary) => {
    const found = overlayOutcome(text, facts);
    expect(found).toMatchObject({
      status,
      summary: typeof summary === 'string' ? summary : expect.stringMatching(summary),
    });
    if (status !== 'pass') expect(found.fix).toBeTruthy();
  });

  test('the preview overlay on main: absent, incomplete, or fine', () => {
    const path = 'k8s/overlays/preview/kustomization.yaml';
    expect(previewOverlayProblem(undefined, path, images)).toMatch(/is not on main/);
    expect(previewOverlayProblem(overlay(entry('api', 'pr-1-1234567')), path, images)).toBe(
      `preview overlay ${path} has no images entry named workers`,
    );
    expect(previewOverlayProblem(overlay(entry('api', 'x') + entry('workers', 'x')), path, images)).toBeUndefined();
  });

  test.each([
    ['disabled', {}, false, 'pass', 'not used (temporal.searchAttributes: false)'],
    [
      'all six as Keyword',
      Object.fromEntries(
        ['DeployEnvironment', 'DeployCommit', 'DeployPath', 'DeployPhase', 'ImageTag', 'DeployPullRequest'].map((n) => [
          n,
          2,
        ]),
      ),
      true,
      'pass',
      'all 6 registered as Keyword in namespace default',
    ],
    [
      'one missing',
      Object.fromEntries(
        ['DeployEnvironment', 'DeployCommit', 'DeployPath', 'DeployPhase', 'ImageTag'].map((n) => [n, 2]),
      ),
      true,
      'warn',
      /^DeployPullRequest not registered/,
    ],
    [
      'one as Text',
      { DeployEnvironment: 2, DeployCommit: 1 },
      true,
      'fail',
      /^DeployCommit registered with another type than Keyword/,
    ],
  ] as const)('search attributes: %s', (_name, registered, enabled, status, summary) => {
    const found = searchAttributesOutcome({ ...registered }, 'default', enabled);
    expect(found).toMatchObject({
      status,
      summary: typeof summary === 'string' ? summary : expect.stringMatching(summary),
    });
  });

  test('a missing search attribute comes with the one command to create it', () => {
    const found = searchAttributesOutcome({}, 'prod', true);
    expect(found.fix!.split('\n')).toEqual([
      'if it may not, an operator runs once:',
      ...['DeployEnvironment', 'DeployCommit', 'DeployPath', 'DeployPhase', 'ImageTag', 'DeployPullRequest'].map(
        (name) => `temporal operator search-attribute create --namespace prod --name ${name} --type Keyword`,
      ),
    ]);
  });

  test('the config parses with the preview section the template check reads', () => {
    const config = parseConfig({
      repository: { owner: 'o', name: 'r' },
      ci: { workflow: 'ci.yml' },
      registry: { endpoint: 'https://r.io' },
      images,
      argocd: { server: argocd.server, application: argocd.application },
      preview: { application: 'r-pr-{number}', branch: 'gitops-deployer/preview-{number}' },
    });
    expect(checkPreviewTemplates(config)).toMatchObject({
      status: 'pass',
      details: ['branch: gitops-deployer/preview-{number} → gitops-deployer/preview-7'],
    });
  });
});
