import { POLICIES, policyOf, type Policy } from '../../src/plan/policy';
import type { Target } from '../../src/contract/target';

describe('the two policies: how production and a preview behave', () => {
  test.each<[string, keyof Policy, Policy[keyof Policy], Policy[keyof Policy]]>([
    ['order: git history, or the newest push', 'order', 'git-history', 'newest-push'],
    ['production lives forever, a preview closes with its pull request', 'closes', false, true],
    ['rollbacks, holds and pauses are production only', 'rollbacks', true, false],
    ['a k8s-only change is committed on a preview branch, confirmed only in production', 'commitsK8s', false, true],
    ['a preview recognises its own overlay commits on the branch people push to', 'ownCommits', false, true],
    ['a preview decides its requests one at a time', 'serialRequests', false, true],
    ['changes come from main, or from a pull request', 'source', 'main', 'pull-request'],
    ['production restarts and takes a deploy over again; a preview does not', 'restartable', true, false],
    ['a deploy runs again: production after a failure only, a preview always', 'rerun', 'failed-only', 'always'],
    ['the Argo CD application may be missing for a preview only', 'applicationMayBeMissing', false, true],
    ['tag rules', 'rules', ['ci', 'running'], ['ci', 'pr-history', 'production']],
  ])('%s', (_, flag, production, preview) => {
    expect(POLICIES.production[flag]).toEqual(production);
    expect(POLICIES.preview[flag]).toEqual(preview);
  });

  test('the table covers every flag of both policies', () => {
    const flags = [
      'order',
      'closes',
      'rollbacks',
      'commitsK8s',
      'ownCommits',
      'serialRequests',
      'source',
      'restartable',
      'rerun',
      'applicationMayBeMissing',
      'rules',
    ].sort();
    expect(Object.keys(POLICIES).sort()).toEqual(['preview', 'production']);
    expect(Object.keys(POLICIES.production).sort()).toEqual(flags);
    expect(Object.keys(POLICIES.preview).sort()).toEqual(flags);
  });
});

describe('policyOf: picked by the target kind', () => {
  test.each<[string, Target, Policy]>([
    ['production', { kind: 'production', name: 'production' }, POLICIES.production],
    ['a preview', { kind: 'preview', pr: 7 }, POLICIES.preview],
  ])('%s', (_, target, expected) => {
    expect(policyOf(target)).toBe(expected);
  });
});
