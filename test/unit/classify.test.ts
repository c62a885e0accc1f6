import { DEFAULT_CHANGE_RULES } from '../../src/config/schema';
import { classifyChanges, type ChangedFile } from '../../src/plan/classify';

const images = ['yt-summarizer-api', 'yt-summarizer-workers'];
const classify = (changes: ChangedFile[]) => classifyChanges(changes, DEFAULT_CHANGE_RULES, images);
const paths = (...p: string[]) => p.map((path) => ({ path }));

describe('classifyChanges: the spec\'s "When Images Are Built" table', () => {
  test.each([
    ['API code', 'services/api/main.py', 'code'],
    ['Worker code', 'services/workers/transcribe.py', 'code'],
    ['Shared lib', 'services/shared/db/models.py', 'code'],
    ['Frontend', 'apps/web/src/App.tsx', 'code'],
    ['Dockerfile', 'services/api/Dockerfile', 'code'],
    ['K8s config', 'k8s/base/deployment.yaml', 'k8s'],
    ['Resource limits', 'k8s/overlays/prod/patches/resources.yaml', 'k8s'],
    ['Terraform', 'infra/terraform/main.tf', 'none'],
    ['Docs', 'docs/api.md', 'none'],
    ['Root README', 'README.md', 'none'],
    ['CI workflows', '.github/workflows/ci.yml', 'none'],
  ])('%s (%s) → %s', (_label, file, expected) => {
    const result = classify(paths(file));
    expect(result.path).toBe(expected);
    expect(result.images).toEqual(expected === 'none' ? [] : images);
  });

  test('none says why: infra only, or skipped', () => {
    expect(classify(paths('infra/terraform/main.tf', 'docs/api.md')).reason).toBe('infra only');
    expect(classify(paths('docs/api.md', '.github/workflows/ci.yml')).reason).toBe('skipped');
  });
});

describe('classifyChanges: beyond the table', () => {
  test('a Dockerfile anywhere is code, including variants and the root', () => {
    for (const file of [
      'Dockerfile',
      'docker/base/Dockerfile',
      'tools/migrate/Dockerfile.prod',
      'docker/compose.yaml',
    ]) {
      expect(classify(paths(file)).path).toBe('code');
    }
  });

  test('mixed code and k8s takes the code path (the new images carry the new config)', () => {
    const result = classify(paths('k8s/base/deployment.yaml', 'services/api/main.py', 'docs/api.md'));
    expect(result.path).toBe('code');
    expect(result.files.k8s).toEqual(['k8s/base/deployment.yaml']);
    expect(result.files.ignored).toEqual(['docs/api.md']);
  });

  test('k8s with infra and docs is still Path 2', () => {
    expect(classify(paths('k8s/base/deployment.yaml', 'infra/terraform/main.tf', 'README.md')).path).toBe('k8s');
  });

  test('a rename counts both paths: moving code out of services/ changes code', () => {
    expect(classify([{ previousPath: 'services/api/old.py', path: 'scripts/old.py' }]).path).toBe('code');
    expect(classify([{ previousPath: 'docs/a.md', path: 'docs/b.md' }]).path).toBe('none');
    expect(classify([{ previousPath: 'docs/deploy.yaml', path: 'k8s/base/deploy.yaml' }]).path).toBe('k8s');
  });

  test('an empty diff deploys nothing', () => {
    expect(classify([])).toMatchObject({ path: 'none', reason: 'skipped', images: [] });
  });

  test('ignored wins over code: a README inside a service does not wait for CI', () => {
    expect(classify(paths('services/api/README.md')).path).toBe('none');
  });

  test('files outside every rule are reported as other and deploy nothing', () => {
    const result = classify(paths('scripts/ci/detect-changes.ps1'));
    expect(result).toMatchObject({ path: 'none', reason: 'skipped' });
    expect(result.files.other).toEqual(['scripts/ci/detect-changes.ps1']);
  });

  test('the reason names the changed files, briefly', () => {
    const result = classify(paths('services/api/a.py', 'services/api/b.py', 'services/api/c.py', 'services/api/d.py'));
    expect(result.reason).toBe('code changed: services/api/a.py, services/api/b.py, services/api/c.py (+1 more)');
  });

  test('custom rules replace the defaults', () => {
    const rules = { ...DEFAULT_CHANGE_RULES, code: ['src/**'] };
    expect(classifyChanges(paths('services/api/main.py'), rules, images).path).toBe('none');
    expect(classifyChanges(paths('src/index.ts'), rules, images).path).toBe('code');
  });
});
