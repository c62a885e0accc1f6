import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig, parseConfigText } from '../../src/config/load';

const valid = {
  repository: { owner: 'o', name: 'r' },
  ci: { workflow: 'ci.yml' },
  registry: { endpoint: 'https://acr.example.io' },
  images: [{ name: 'api', repository: 'api' }],
  argocd: { server: 'https://argocd.example.com', application: 'app-prod' },
};

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  test('the shipped example is valid and documents the spec defaults', () => {
    const config = loadConfig(join(__dirname, '../../examples/deploy.config.yaml'));
    expect(config.repository).toMatchObject({ owner: 'yt-summarizer-org', name: 'yt-summarizer', mainBranch: 'main' });
    expect(config.ci.timeout).toBe(60 * 60_000);
    expect(config.ci.rerunWindow).toBe(0);
    expect(config.argocd.syncTimeout).toBe(15 * 60_000);
    expect(config.images.map((i) => i.name)).toEqual(['yt-summarizer-api', 'yt-summarizer-workers']);
  });

  test('defaults fill what is left out', () => {
    const config = parseConfig(valid);
    expect(config.github.apiUrl).toBe('https://api.github.com');
    expect(config.overlay.path).toBe('k8s/overlays/prod/kustomization.yaml');
    expect(config.ci).toEqual({
      workflow: 'ci.yml',
      timeout: 3_600_000,
      pollInitial: 15_000,
      pollMax: 120_000,
      rerunWindow: 0,
    });
    expect(config.changeRules.code).toContain('**/Dockerfile*');
    expect(config.environment).toEqual({
      name: 'production',
      autoRollback: false,
      continueAsNewAfter: 100,
      reannounceAfter: 300_000,
      githubDeployments: false,
    });
  });

  test('every problem is reported at once, each named by field', () => {
    const found = problems({
      ...valid,
      repository: { owner: '' },
      ci: { workflow: 'ci.yml', timeout: 'soon' },
      registry: { endpoint: 'http://acr.example.io' },
      images: [],
      extra: 1,
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^repository\.owner: /),
        expect.stringMatching(/^repository\.name: /),
        expect.stringMatching(/^ci\.timeout: .*duration/),
        expect.stringMatching(/^registry\.endpoint: .*https/),
        expect.stringMatching(/^images: /),
        expect.stringMatching(/extra/),
      ]),
    );
  });

  test('duplicate images and inverted poll bounds are refused', () => {
    expect(problems({ ...valid, images: [valid.images[0], valid.images[0]] })).toEqual([
      expect.stringMatching(/^images\.1\.name: duplicate/),
    ]);
    expect(problems({ ...valid, ci: { workflow: 'ci.yml', pollInitial: '5m', pollMax: '1m' } })).toEqual([
      expect.stringMatching(/^ci\.pollMax: /),
    ]);
  });

  test('a secret in the file is refused, pointing at the environment', () => {
    expect(problems({ ...valid, github: { token: 'ghp_x' } })).toEqual([
      expect.stringMatching(/^github\.token: secrets are read from the environment/),
    ]);
    expect(problems({ ...valid, argocd: { ...valid.argocd, authToken: 'x' } })).toEqual([
      expect.stringMatching(/^argocd\.authToken: /),
    ]);
  });

  test('a secret key does not hide the other problems, and is named once', () => {
    const found = problems({
      ...valid,
      github: { token: 'ghp_x' },
      ci: { workflow: 'ci.yml', timeout: 60 },
      images: [],
    });
    expect(found).toEqual([
      expect.stringMatching(/^github\.token: secrets are read from the environment/),
      expect.stringMatching(/^ci\.timeout: 60 has no unit/),
      'images: list at least one image',
    ]);
  });

  describe('durations take a unit', () => {
    const ci = (fields: Record<string, unknown>) => ({ ...valid, ci: { workflow: 'ci.yml', ...fields } });
    test.each<[string, unknown, number]>([
      ['milliseconds', '500ms', 500],
      ['seconds', '15s', 15_000],
      ['minutes', '2m', 120_000],
      ['hours', '1h', 3_600_000],
      ['a long unit name', '90 minutes', 5_400_000],
      ['a fraction', '1.5h', 5_400_000],
    ])('%s: %j', (_name, value, expected) => {
      expect(parseConfig(ci({ timeout: value })).ci.timeout).toBe(expected);
    });

    test.each<[string, unknown, RegExp]>([
      ['a number (once read as 60 ms)', 60, /^ci\.timeout: 60 has no unit: add a unit, e.g\. 60m/],
      ['a string without a unit', '60', /^ci\.timeout: 60 has no unit: add a unit, e.g\. 60m/],
      ['a fraction without a unit', '1.5', /^ci\.timeout: 1\.5 has no unit/],
      ['words', 'soon', /^ci\.timeout: expected a duration like "15s", "2m" or "1h", got "soon"$/],
      ['an unknown unit', '5 fortnights', /^ci\.timeout: expected a duration like/],
      ['zero', '0s', /^ci\.timeout: expected a positive duration/],
      ['a negative one', '-5m', /^ci\.timeout: expected a positive duration/],
      ['true', true, /^ci\.timeout: expected a duration like "15s", "2m" or "1h"$/],
      ['an empty value', null, /^ci\.timeout: required$/],
    ])('refused: %s', (_name, value, message) => {
      expect(problems(ci({ timeout: value }))).toEqual([expect.stringMatching(message)]);
    });

    test('every duration field is checked the same way', () => {
      expect(
        problems({
          ...ci({ pollInitial: 5, pollMax: '10' }),
          argocd: { ...valid.argocd, syncTimeout: 900 },
          preview: { application: 'app-pr-{number}', syncTimeout: 30 },
          environment: { reannounceAfter: 300 },
        }),
      ).toEqual([
        expect.stringMatching(/^ci\.pollInitial: 5 has no unit/),
        expect.stringMatching(/^ci\.pollMax: 10 has no unit/),
        expect.stringMatching(/^argocd\.syncTimeout: 900 has no unit/),
        expect.stringMatching(/^preview\.syncTimeout: 30 has no unit/),
        expect.stringMatching(/^environment\.reannounceAfter: 300 has no unit/),
      ]);
    });

    test('environment.reannounceAfter defaults to 5 minutes and takes a positive duration', () => {
      const environment = (fields: Record<string, unknown>) => ({ ...valid, environment: fields });
      expect(parseConfig(valid).environment.reannounceAfter).toBe(300_000);
      expect(parseConfig(environment({ autoRollback: true })).environment.reannounceAfter).toBe(300_000);
      expect(parseConfig(environment({ reannounceAfter: '90s' })).environment.reannounceAfter).toBe(90_000);
      expect(parseConfig(environment({ reannounceAfter: '1h' })).environment.reannounceAfter).toBe(3_600_000);
      expect(problems(environment({ reannounceAfter: '0s' }))).toEqual([
        expect.stringMatching(/^environment\.reannounceAfter: expected a positive duration/),
      ]);
      expect(problems(environment({ reannounceAfter: 'later' }))).toEqual([
        'environment.reannounceAfter: expected a duration like "15s", "2m" or "1h", got "later"',
      ]);
      expect(problems(environment({ reannounceAfter: null }))).toEqual(['environment.reannounceAfter: required']);
    });

    test('ci.rerunWindow defaults to 0 and is the only duration that may be zero', () => {
      expect(parseConfig(valid).ci.rerunWindow).toBe(0);
      expect(parseConfig(ci({ rerunWindow: '0s' })).ci.rerunWindow).toBe(0);
      expect(parseConfig(ci({ rerunWindow: '30m' })).ci.rerunWindow).toBe(1_800_000);
      expect(problems(ci({ rerunWindow: 30 }))).toEqual([expect.stringMatching(/^ci\.rerunWindow: 30 has no unit/)]);
      expect(problems(ci({ rerunWindow: '-1m' }))).toEqual([
        expect.stringMatching(/^ci\.rerunWindow: expected a positive duration/),
      ]);
      expect(problems(ci({ pollInitial: '0ms' }))).toEqual([
        expect.stringMatching(/^ci\.pollInitial: expected a positive duration/),
      ]);
    });
  });

  describe('change-rule globs are parsed', () => {
    test.each<[string, string, string]>([
      ['an unclosed bracket', 'apps/web/[', '"[" is never closed (write \\[ to match the character itself)'],
      ['an unopened bracket', 'apps/web/]', '"]" is never opened (write \\] to match the character itself)'],
      ['an unclosed brace', 'services/{api,workers', '"{" is never closed (write \\{ to match the character itself)'],
      ['an unclosed paren', 'services/@(api|workers', '"(" is never closed (write \\( to match the character itself)'],
      ['an unopened paren', 'services/api)', '")" is never opened (write \\) to match the character itself)'],
    ])('refused: %s', (_name, pattern, reason) => {
      expect(problems({ ...valid, changeRules: { code: ['services/**', pattern] } })).toEqual([
        `changeRules.code.1: ${JSON.stringify(pattern)} is not a valid glob: ${reason}`,
      ]);
    });

    test.each([
      '**/Dockerfile*',
      'apps/web/[abc]/**',
      'services/{api,workers}/**',
      'services/@(api|workers)/**',
      'docs/[[:alpha:]]*.md',
      'apps/web/\\[literal',
    ])('accepted: %s', (pattern) => {
      expect(parseConfig({ ...valid, changeRules: { k8s: [pattern] } }).changeRules.k8s).toEqual([pattern]);
    });

    test('every bad glob of every category is named', () => {
      expect(
        problems({ ...valid, changeRules: { ignored: ['docs/['], infra: ['infra/**', 'infra/{a'], code: [''] } }),
      ).toEqual([
        expect.stringMatching(/^changeRules\.code\.0: must not be empty$/),
        expect.stringMatching(/^changeRules\.infra\.1: "infra\/\{a" is not a valid glob/),
        expect.stringMatching(/^changeRules\.ignored\.0: "docs\/\[" is not a valid glob/),
      ]);
    });
  });

  describe('repository.cloneUrl', () => {
    const cloneUrl = (url: string) => ({ ...valid, repository: { owner: 'o', name: 'r', cloneUrl: url } });
    const SECRET = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a';

    test.each([
      'https://github.com/o/r.git',
      'https://ghe.example.com/o/r',
      'file:///srv/git/r.git',
      'ssh://git@github.com/o/r.git',
      'git@github.com:o/r.git',
    ])('accepted: %s', (url) => {
      expect(parseConfig(cloneUrl(url)).repository.cloneUrl).toBe(url);
    });

    test.each<[string, string, RegExp]>([
      [
        'a token as user and password',
        `https://x-access-token:${SECRET}@github.com/o/r.git`,
        /\(use https:\/\/github\.com\/o\/r\.git\)$/,
      ],
      ['a token as the user name', `https://${SECRET}@github.com/o/r.git`, /\(use https:\/\/github\.com\/o\/r\.git\)$/],
      [
        'user and password',
        `https://deployer:${SECRET}@ghe.example.com/o/r`,
        /\(use https:\/\/ghe\.example\.com\/o\/r\)$/,
      ],
      ['a password in an ssh URL', `ssh://git:${SECRET}@github.com/o/r.git`, /carry credentials$/],
      ['a password in scp-like syntax', `git:${SECRET}@github.com:o/r.git`, /carry credentials$/],
    ])('credentials are refused without echoing them: %s', (_name, url, tail) => {
      const found = problems(cloneUrl(url));
      expect(found).toEqual([
        expect.stringMatching(
          /^repository\.cloneUrl: put the token in GITHUB_TOKEN; the URL must not carry credentials/,
        ),
      ]);
      expect(found[0]).toMatch(tail);
      expect(found.join('\n')).not.toContain(SECRET);
      expect(found.join('\n')).not.toMatch(/x-access-token|deployer/);
    });

    test.each<[string, string, RegExp]>([
      ['plain http', 'http://github.com/o/r.git', /expected an https:\/\/ URL .*, not http:\/\/$/],
      ['the git protocol', 'git://github.com/o/r.git', /not git:\/\/$/],
      ['a bare path', '/srv/git/r.git', /a local path: write it as a file:\/\/ URL$/],
      ['not a URL', 'github.com/o/r', /expected an https:\/\/ URL/],
    ])('unsupported: %s', (_name, url, message) => {
      expect(problems(cloneUrl(url))).toEqual([expect.stringMatching(/^repository\.cloneUrl: /)]);
      expect(problems(cloneUrl(url))[0]).toMatch(message);
    });

    test('credentials over plain http: both problems, still without the secret', () => {
      const found = problems(cloneUrl(`http://${SECRET}@github.com/o/r.git`));
      expect(found).toEqual([expect.stringMatching(/carry credentials/), expect.stringMatching(/not http:\/\/$/)]);
      expect(found.join('\n')).not.toContain(SECRET);
    });
  });

  describe('problems in plain words, each with its field path', () => {
    test.each<[string, Record<string, unknown>, string[]]>([
      ['a missing field', { ...valid, ci: {} }, ['ci.workflow: required']],
      ['a missing section', { ...valid, argocd: undefined }, ['argocd: required']],
      ['an empty YAML value', { ...valid, ci: null }, ['ci: required (the value is empty)']],
      ['an empty string', { ...valid, repository: { owner: '', name: 'r' } }, ['repository.owner: must not be empty']],
      [
        'text where a number goes',
        { ...valid, preview: { application: 'app-pr-{number}', searchDepth: 'many' } },
        ['preview.searchDepth: expected a number, got text'],
      ],
      [
        'a fraction where a whole number goes',
        { ...valid, environment: { continueAsNewAfter: 1.5 } },
        ['environment.continueAsNewAfter: expected a whole number, got 1.5'],
      ],
      [
        'a number out of range',
        { ...valid, preview: { application: 'app-pr-{number}', searchDepth: 1000 } },
        ['preview.searchDepth: must be at most 250'],
      ],
      [
        'text where true/false goes',
        { ...valid, environment: { autoRollback: 'yes' } },
        ['environment.autoRollback: expected true or false, got text'],
      ],
      ['a scalar where a list goes', { ...valid, images: 'api' }, ['images: expected a list, got text']],
      [
        'a list where a section goes',
        { ...valid, registry: ['https://acr.example.io'] },
        ['registry: expected a section of fields, got a list'],
      ],
      [
        'an unknown field',
        { ...valid, ci: { workflow: 'ci.yml', timout: '5m' } },
        ['ci.timout: unknown field (this section takes workflow, timeout, pollInitial, pollMax, rerunWindow)'],
      ],
      [
        'two unknown fields',
        { ...valid, extra: 1, git: { cache: 'x' } },
        [
          'git.cache: unknown field (this section takes cacheDir, authorName, authorEmail)',
          expect.stringMatching(
            /^extra: unknown field \(this section takes repository, github, ci, /,
          ) as unknown as string,
        ],
      ],
      [
        'a bad URL',
        { ...valid, argocd: { ...valid.argocd, server: 'argocd' } },
        ['argocd.server: expected an http:// or https:// URL'],
      ],
      [
        'a missing URL',
        { ...valid, registry: {}, argocd: { application: 'app-prod' } },
        ['registry.endpoint: required', 'argocd.server: required'],
      ],
      [
        'an empty URL',
        { ...valid, registry: { endpoint: null } },
        ['registry.endpoint: required (the value is empty)'],
      ],
    ])('%s', (_name, raw, expected) => {
      expect(problems(raw)).toEqual(expected);
    });

    test('no zod jargon, whatever the mistakes', () => {
      const found = problems({
        repository: { owner: 7, extra: true },
        ci: { timeout: [] },
        registry: {},
        images: [{}],
        argocd: { server: 1 },
        environment: { autoRollback: 1 },
        changeRules: { code: 'x' },
      });
      expect(found.length).toBeGreaterThanOrEqual(10);
      for (const line of found) expect(line).toMatch(/^[a-zA-Z]+(\.[a-zA-Z0-9]+)*: /);
      expect(found.join('\n')).not.toMatch(
        /Invalid input|received|Unrecognized key|Too small|expected string|expected int/,
      );
    });
  });

  test('previews are off without a preview section; with one, the template and defaults are checked', () => {
    expect(parseConfig(valid).preview).toBeUndefined();
    expect(parseConfig({ ...valid, preview: { application: 'app-pr-{number}' } }).preview).toEqual({
      application: 'app-pr-{number}',
      overlayPath: 'k8s/overlays/preview/kustomization.yaml',
      searchDepth: 30,
      githubDeployments: false,
      comment: false,
    });
    expect(problems({ ...valid, preview: { application: 'app-preview' } })).toEqual([
      expect.stringMatching(/^preview\.application: must contain \{number\}/),
    ]);
    expect(problems({ ...valid, preview: { application: 'App_PR_{number}' } })).toEqual([
      expect.stringMatching(/^preview\.application: must be a lower-case DNS-style name/),
    ]);
    expect(problems({ ...valid, preview: { application: 'app-pr-{number}', syncTimeout: 'never' } })).toEqual([
      expect.stringMatching(/^preview\.syncTimeout: /),
    ]);
    expect(
      problems({
        ...valid,
        preview: { application: 'app-pr-{number}', overlayPath: 'k8s/overlays/prod/kustomization.yaml' },
      }),
    ).toEqual([expect.stringMatching(/^preview\.overlayPath: must differ from overlay\.path/)]);
    expect(loadConfig(join(__dirname, '../../examples/deploy.config.yaml')).preview?.application).toBe(
      'yt-summarizer-pr-{number}',
    );
  });

  describe('notifications', () => {
    const SECRET_URL = 'https://hooks.slack.com/services/T0ACME/B0DEPLOYS/s3cr3tW3bh00kT0ken';
    const sinks = (notifications: unknown) => ({ ...valid, notifications });

    test('none by default; a sink gets both environments and every outcome but superseded', () => {
      expect(parseConfig(valid).notifications).toEqual([]);
      expect(parseConfig(sinks([{ name: 'deploys-slack', format: 'slack' }])).notifications).toEqual([
        {
          name: 'deploys-slack',
          format: 'slack',
          environments: ['production', 'preview'],
          on: ['succeeded', 'failed', 'rolled-back', 'held'],
        },
      ]);
      expect(
        parseConfig(
          sinks([{ name: 'events', format: 'cloudevents', environments: ['preview'], on: ['superseded', 'failed'] }]),
        ).notifications,
      ).toEqual([{ name: 'events', format: 'cloudevents', environments: ['preview'], on: ['superseded', 'failed'] }]);
    });

    test('a URL in the file is refused, naming the variable it belongs in and never repeating it', () => {
      const found = problems(sinks([{ name: 'deploys-slack', format: 'slack', url: SECRET_URL }]));
      expect(found).toEqual([
        "notifications.0.url: a sink's URL is a secret: set it in NOTIFY_DEPLOYS_SLACK_URL instead of this file",
      ]);
      expect(found.join('\n')).not.toContain('s3cr3t');
      expect(found.join('\n')).not.toContain('hooks.slack.com');
    });

    test('names: unique, lower-case words with dashes (each is a variable name)', () => {
      expect(
        problems(
          sinks([
            { name: 'deploys', format: 'slack' },
            { name: 'deploys', format: 'cloudevents' },
          ]),
        ),
      ).toEqual(['notifications.1.name: duplicate sink "deploys"']);
      for (const name of ['Deploys_Slack', 'deploys slack', '-deploys', 'deploys-', ''])
        expect(problems(sinks([{ name, format: 'slack' }]))).toEqual([
          expect.stringMatching(/^notifications\.0\.name: /),
        ]);
      expect(problems(sinks([{ name: 'Deploys_Slack', format: 'slack' }]))).toEqual([
        'notifications.0.name: expected a lower-case name like "deploys-slack" (its URL: NOTIFY_DEPLOYS_SLACK_URL)',
      ]);
    });

    test('format, environments and outcomes are from their lists; unknown fields are named', () => {
      expect(
        problems(
          sinks([
            { name: 'a', format: 'teams' },
            { name: 'b', format: 'slack', environments: ['staging'] },
            { name: 'c', format: 'slack', on: ['started'] },
            { name: 'd', format: 'slack', on: [] },
            { name: 'e', format: 'slack', channel: '#deploys' },
          ]),
        ),
      ).toEqual([
        expect.stringMatching(/^notifications\.0\.format: /),
        expect.stringMatching(/^notifications\.1\.environments\.0: /),
        expect.stringMatching(/^notifications\.2\.on\.0: /),
        expect.stringMatching(/^notifications\.3\.on: /),
        expect.stringMatching(/^notifications\.4\.channel: unknown field/),
      ]);
    });
  });

  test('YAML syntax errors and unreadable files are ConfigErrors too', () => {
    expect(() => parseConfigText('repository: [\n')).toThrow(ConfigError);
    expect(() => loadConfig('/nonexistent/deploy.config.yaml')).toThrow(/cannot read the file/);
  });
});
