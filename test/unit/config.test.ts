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
    expect(config.argocd.syncTimeout).toBe(15 * 60_000);
    expect(config.images.map((i) => i.name)).toEqual(['yt-summarizer-api', 'yt-summarizer-workers']);
  });

  test('defaults fill what is left out', () => {
    const config = parseConfig(valid);
    expect(config.github.apiUrl).toBe('https://api.github.com');
    expect(config.overlay.path).toBe('k8s/overlays/prod/kustomization.yaml');
    expect(config.ci).toMatchObject({ timeout: 3_600_000, pollInitial: 15_000, pollMax: 120_000 });
    expect(config.changeRules.code).toContain('**/Dockerfile*');
  });

  test('every problem is reported at once, each named by field', () => {
    const found = problems({ ...valid, repository: { owner: '' }, ci: { workflow: 'ci.yml', timeout: 'soon' }, registry: { endpoint: 'http://acr.example.io' }, images: [], extra: 1 });
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
    expect(problems({ ...valid, images: [valid.images[0], valid.images[0]] })).toEqual([expect.stringMatching(/^images\.1\.name: duplicate/)]);
    expect(problems({ ...valid, ci: { workflow: 'ci.yml', pollInitial: '5m', pollMax: '1m' } })).toEqual([expect.stringMatching(/^ci\.pollMax: /)]);
  });

  test('a secret in the file is refused, pointing at the environment', () => {
    expect(problems({ ...valid, github: { token: 'ghp_x' } })).toEqual([expect.stringMatching(/^github\.token: secrets are read from the environment/)]);
    expect(problems({ ...valid, argocd: { ...valid.argocd, authToken: 'x' } })).toEqual([expect.stringMatching(/^argocd\.authToken: /)]);
  });

  test('previews are off without a preview section; with one, the template and defaults are checked', () => {
    expect(parseConfig(valid).preview).toBeUndefined();
    expect(parseConfig({ ...valid, preview: { application: 'app-pr-{number}' } }).preview).toEqual({ application: 'app-pr-{number}', overlayPath: 'k8s/overlays/preview/kustomization.yaml', searchDepth: 30 });
    expect(problems({ ...valid, preview: { application: 'app-preview' } })).toEqual([expect.stringMatching(/^preview\.application: must contain \{number\}/)]);
    expect(problems({ ...valid, preview: { application: 'App_PR_{number}' } })).toEqual([expect.stringMatching(/^preview\.application: must be a lower-case DNS-style name/)]);
    expect(problems({ ...valid, preview: { application: 'app-pr-{number}', syncTimeout: 'never' } })).toEqual([expect.stringMatching(/^preview\.syncTimeout: /)]);
    expect(problems({ ...valid, preview: { application: 'app-pr-{number}', overlayPath: 'k8s/overlays/prod/kustomization.yaml' } })).toEqual([expect.stringMatching(/^preview\.overlayPath: must differ from overlay\.path/)]);
    expect(loadConfig(join(__dirname, '../../examples/deploy.config.yaml')).preview?.application).toBe('yt-summarizer-pr-{number}');
  });

  test('YAML syntax errors and unreadable files are ConfigErrors too', () => {
    expect(() => parseConfigText('repository: [\n')).toThrow(ConfigError);
    expect(() => loadConfig('/nonexistent/deploy.config.yaml')).toThrow(/cannot read the file/);
  });
});
