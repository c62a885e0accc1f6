import { overlayCommitMessage } from '../../src/activities/overlay';
import { parseConfig } from '../../src/config/load';
import { hasDeployerTrailer } from '../../src/plan/trailers';
import { decide, PayloadError, type Decision } from '../../src/relay/events';
import { deployWorkflowId } from '../../src/contract/ids';
import {
  pullRequestPayload,
  pushPayload,
  randomSha,
  workflowRunPayload,
  ZERO,
  type PushSpec,
} from '../../harness/standins/github-webhooks';

const REPO = 'yt-summarizer-org/yt-summarizer';
const base = {
  repository: { owner: 'yt-summarizer-org', name: 'yt-summarizer' },
  ci: { workflow: 'ci.yml' },
  registry: { endpoint: 'https://acr.example.io' },
  images: [{ name: 'api', repository: 'api' }],
  argocd: { server: 'https://argocd.example.com', application: 'app-prod' },
};
const config = parseConfig(base);
const withCi = (workflow: string) => parseConfig({ ...base, ci: { workflow } });

const before = randomSha();
const after = randomSha();
const push = (spec: Partial<PushSpec> = {}) => pushPayload({ repository: REPO, before, after, ...spec });
const overlay = (commit: string) =>
  overlayCommitMessage({
    kind: 'deploy',
    tag: 'sha-1234567',
    commit,
    workflowId: deployWorkflowId(REPO, { kind: 'production', name: 'production' }, commit),
  });
const start: Decision = { kind: 'start', commit: after, before };

describe('decide: push', () => {
  test.each<[string, unknown, Decision | RegExp]>([
    ['a merge to main starts its deploy', push(), start],
    [
      'several commits in one push: the head is deployed',
      push({ commits: [{ message: 'fix: a' }, { message: 'fix: b' }] }),
      start,
    ],
    [
      'the repository name is matched case-insensitively',
      push({ repository: 'YT-Summarizer-Org/YT-Summarizer' }),
      start,
    ],
    ['upper-case ids are normalised', push({ after: after.toUpperCase(), before: before.toUpperCase() }), start],
    [
      'creating main (before all zeros) still deploys',
      push({ before: ZERO, created: true }),
      { ...start, before: ZERO },
    ],
    ['a force push to main deploys the new head', push({ forced: true }), start],
    [
      'a push with no head commit (main moved back) still deploys after',
      { ...push(), head_commit: null, commits: [] },
      start,
    ],
    [
      "a person's [skip ci] commit is not the deployer's",
      push({ commits: [{ message: 'k8s: replicas [skip ci]' }] }),
      start,
    ],
    [
      'a trailer quoted mid-message does not count',
      push({ commits: [{ message: `revert deploy\n\nDeploy-Workflow-Id: x\n\nThis reverts a deploy.` }] }),
      start,
    ],
    ['another branch', push({ ref: 'refs/heads/feature/x' }), /refs\/heads\/feature\/x, not refs\/heads\/main/],
    ['a branch merely ending in main', push({ ref: 'refs/heads/not-main' }), /not refs\/heads\/main/],
    ['a tag', push({ ref: 'refs/tags/v1.2.3' }), /tag push refs\/tags\/v1.2.3/],
    ['another repository', push({ repository: 'someone/fork' }), /someone\/fork, not the configured repository/],
    ['a branch deletion', push({ deleted: true }), /was deleted/],
    ['after all zeros without the deleted flag', { ...push(), after: ZERO }, /was deleted/],
    [
      "the deployer's overlay commit",
      push({ commits: [{ message: overlay(before) }] }),
      /deployer's own overlay commit .*Deploy-Workflow-Id/,
    ],
    [
      'several deployer commits at once',
      push({ commits: [{ message: overlay(randomSha()) }, { message: overlay(before) }] }),
      /deployer's own/,
    ],
    [
      "the deployer's rollback commit",
      push({
        commits: [
          {
            message: overlayCommitMessage({
              kind: 'rollback',
              tag: 'sha-7654321',
              reason: 'bad release',
              requestedBy: 'deployctl (ana)',
              workflowId: 'rollback-1',
            }),
          },
        ],
      }),
      /deployer's own/,
    ],
    // A squash merge copies a preview's overlay commit, trailers included, into main: that is a person's merge.
    [
      "a squash merge that carries a preview commit's trailers",
      push({
        commits: [
          {
            message: `feat: api v2 (#7)\n\n* feat: api v2\n\n* ${overlayCommitMessage({ kind: 'preview', tag: 'pr-7-abcdef0', commit: before, pr: 7, branch: 'feature/x', rule: 'ci', target: null, workflowId: `preview-${REPO.replace('/', '-')}-pr-7-${before}` })}`,
          },
        ],
      }),
      start,
    ],
    [
      'CRLF line endings in the deployer message',
      push({ commits: [{ message: overlay(before).replace(/\n/g, '\r\n') }] }),
      /deployer's own/,
    ],
  ])('%s', (_name, payload, expected) => {
    const decision = decide('push', payload, config);
    if (expected instanceof RegExp)
      expect(decision).toEqual({ kind: 'ignore', reason: expect.stringMatching(expected) });
    else expect(decision).toEqual(expected);
  });

  test("a person's commit pushed together with a deployer commit is deployed", () => {
    expect(decide('push', push({ commits: [{ message: 'feat: x' }, { message: overlay(before) }] }), config)).toEqual(
      start,
    );
    expect(decide('push', push({ commits: [{ message: overlay(before) }, { message: 'feat: x' }] }), config)).toEqual(
      start,
    );
  });

  test('another main branch name is honoured', () => {
    const trunk = parseConfig({ ...base, repository: { ...base.repository, mainBranch: 'trunk' } });
    expect(decide('push', push({ ref: 'refs/heads/trunk' }), trunk)).toEqual(start);
    expect(decide('push', push(), trunk)).toMatchObject({ kind: 'ignore' });
  });
});

describe('decide: workflow_run', () => {
  const sha = randomSha();
  const run = (fields: Record<string, unknown> = {}, action?: string) =>
    workflowRunPayload(REPO, { id: 10_000_000_123, head_sha: sha, ...fields }, action);
  const signal = (fields: Record<string, unknown> = {}): Decision => ({
    kind: 'signal',
    run: {
      id: 10_000_000_123,
      status: 'completed',
      conclusion: 'success',
      url: `https://github.com/${REPO}/actions/runs/10000000123`,
      headSha: sha,
      attempt: 1,
      ...fields,
    },
  });

  const rows: Array<[string, unknown, Decision | RegExp, string?]> = [
    ['a completed CI run for a push to main is signalled', run(), signal()],
    [
      'a failed run is signalled too: the deploy fails fast',
      run({ conclusion: 'failure' }),
      signal({ conclusion: 'failure' }),
    ],
    ['a re-run carries its attempt', run({ run_attempt: 3 }), signal({ attempt: 3 })],
    [
      'matched by workflow.path when the run has no path',
      { ...run(), workflow_run: { ...run().workflow_run, path: undefined } },
      signal(),
    ],
    ['a path with an @ref suffix', run({ path: '.github/workflows/ci.yml@refs/heads/main' }), signal()],
    ['matched by display name when ci.workflow is one', run({ name: 'CI' }), signal(), 'CI'],
    ['matched by workflow id when ci.workflow is one', run({ workflow_id: 161335 }), signal(), '161335'],
    ['a configured full path', run(), signal(), '.github/workflows/ci.yml'],
    ['requested: not finished yet', run({}, 'requested'), /workflow_run requested/],
    ['in_progress: not finished yet', run({}, 'in_progress'), /workflow_run in_progress/],
    [
      'another workflow file',
      run({ path: '.github/workflows/lint.yml', name: 'Lint' }),
      /"Lint" is not the CI workflow ci.yml/,
    ],
    ['a file name that only ends the same', run({ path: '.github/workflows/nightly-ci.yml' }), /not the CI workflow/],
    ['another display name', run({ name: 'Nightly' }), /not the CI workflow CI/, 'CI'],
    [
      'a pull request run',
      run({ event: 'pull_request', head_branch: 'feat/x' }),
      /pull_request on feat\/x, not a push to main/,
    ],
    ['a push to another branch', run({ head_branch: 'release' }), /push on release/],
    ['another repository', { ...run(), repository: { full_name: 'someone/fork' } }, /someone\/fork/],
  ];
  // Every row gets all four values: Jest would pass a missing last one as a `done` callback.
  test.each(
    rows.map(([name, payload, expected, workflow]) => [name, payload, expected, workflow ?? 'ci.yml'] as const),
  )('%s', (_name, payload, expected, workflow) => {
    const decision = decide('workflow_run', payload, withCi(workflow));
    if (expected instanceof RegExp)
      expect(decision).toEqual({ kind: 'ignore', reason: expect.stringMatching(expected) });
    else expect(decision).toEqual(expected);
  });
});

describe('decide: other events and malformed payloads', () => {
  test.each([
    ['ping', { zen: 'Keep it logically awesome.', hook_id: 1 }, { kind: 'pong' }],
    ['issues', { action: 'opened' }, { kind: 'ignore', reason: expect.stringMatching(/"issues" is not handled/) }],
    ['check_suite', {}, { kind: 'ignore', reason: expect.stringMatching(/"check_suite" is not handled/) }],
  ])('%s', (event, payload, expected) => {
    expect(decide(event, payload, config)).toEqual(expected);
  });

  test.each<[string, string, unknown, string]>([
    ['push without ref', 'push', { ...push(), ref: undefined }, 'ref'],
    ['push with a short after', 'push', { ...push(), after: 'abc123' }, 'after'],
    ['push without repository', 'push', { ...push(), repository: undefined }, 'repository'],
    [
      'push with a numeric head_commit.message',
      'push',
      { ...push(), head_commit: { id: after, message: 7 } },
      'head_commit.message',
    ],
    ['push with a bad commit in the list', 'push', { ...push(), commits: [{ id: after }] }, 'commits.0.message'],
    ['push body that is not an object', 'push', 'hello', '(payload)'],
    [
      'workflow_run with a string id',
      'workflow_run',
      workflowRunPayload(REPO, { id: '12' as unknown as number, head_sha: randomSha() }),
      'workflow_run.id',
    ],
    [
      'workflow_run without head_sha',
      'workflow_run',
      workflowRunPayload(REPO, { id: 12, head_sha: undefined as unknown as string }),
      'workflow_run.head_sha',
    ],
    [
      'workflow_run without action',
      'workflow_run',
      { ...workflowRunPayload(REPO, { id: 12, head_sha: randomSha() }), action: undefined },
      'action',
    ],
  ])('%s: a PayloadError naming the field', (_name, event, payload, field) => {
    let error: unknown;
    try {
      decide(event, payload, config);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PayloadError);
    expect(error).toMatchObject({ field, message: expect.stringContaining(`${event} payload: ${field}: `) });
  });
});

describe('hasDeployerTrailer', () => {
  test('recognises exactly what the overlay step writes', () => {
    expect(hasDeployerTrailer(overlay(randomSha()))).toBe(true);
    expect(hasDeployerTrailer('deploy: production to sha-1234567 [skip ci]')).toBe(false);
    expect(hasDeployerTrailer('fix\n\nDeploy-Workflow-Id:')).toBe(false);
    expect(hasDeployerTrailer('fix\n\nSigned-off-by: a <a@b>\ndeploy-workflow-id: deploy-x')).toBe(true);
  });
});

describe('decide: pull_request', () => {
  const previews = parseConfig({ ...base, preview: { application: 'app-pr-{number}' } });
  const head = randomSha();
  const pr = (action: string, extra: Record<string, unknown> = {}, push?: { before: string; after: string }) =>
    pullRequestPayload(REPO, action, { number: 7, headSha: head, ...extra }, push);

  test.each<[string, unknown, Decision | RegExp]>([
    ['opened previews the head', pr('opened'), { kind: 'preview', pr: 7, commit: head }],
    ['reopened previews the head', pr('reopened'), { kind: 'preview', pr: 7, commit: head }],
    [
      'a push (synchronize) previews the new head and passes on the old one',
      pr('synchronize', {}, { before, after: head }),
      { kind: 'preview', pr: 7, commit: head, before },
    ],
    [
      'a fork is forwarded: its preview deploy says why it deploys nothing',
      pr('opened', { fork: 'someone/fork' }),
      { kind: 'preview', pr: 7, commit: head },
    ],
    ['closed ends the preview', pr('closed', { state: 'closed' }), { kind: 'preview-closed', pr: 7, merged: false }],
    [
      'merged ends it too',
      pr('closed', { state: 'closed', merged: true }),
      { kind: 'preview-closed', pr: 7, merged: true },
    ],
    ['labels change nothing', pr('labeled'), /pull_request labeled/],
    [
      'another repository',
      pullRequestPayload('someone/else', 'opened', { number: 7, headSha: head }),
      /not the configured repository/,
    ],
  ])('%s', (_, payload, expected) => {
    const decision = decide('pull_request', payload, previews);
    if (expected instanceof RegExp)
      expect(decision).toMatchObject({ kind: 'ignore', reason: expect.stringMatching(expected) });
    else expect(decision).toEqual(expected);
  });

  test('without a preview section pull requests are ignored, saying so', () => {
    expect(decide('pull_request', pr('opened'), config)).toMatchObject({
      kind: 'ignore',
      reason: expect.stringMatching(/previews are not configured/),
    });
  });

  test('a malformed head sha is a 400 naming the field', () => {
    expect(() => decide('pull_request', pr('opened', { headSha: 'nope' }), previews)).toThrow(PayloadError);
    try {
      decide('pull_request', pr('opened', { headSha: 'nope' }), previews);
    } catch (err) {
      expect((err as PayloadError).field).toBe('pull_request.head.sha');
    }
  });

  test("a pull request's completed CI run signals the preview deploys it lists; a fork's lists none", () => {
    const run = { id: 5, head_sha: head, head_branch: 'feature/x', event: 'pull_request' };
    expect(
      decide('workflow_run', workflowRunPayload(REPO, { ...run, pull_requests: [{ number: 7 }] }), previews),
    ).toMatchObject({ kind: 'preview-ci', pullRequests: [7], run: { id: 5, headSha: head } });
    expect(decide('workflow_run', workflowRunPayload(REPO, { ...run, pull_requests: [] }), previews)).toMatchObject({
      kind: 'ignore',
      reason: expect.stringMatching(/fork/),
    });
    expect(
      decide('workflow_run', workflowRunPayload(REPO, { ...run, pull_requests: [{ number: 7 }] }), config),
    ).toMatchObject({ kind: 'ignore' });
  });
});
