import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { startDeploy } from '../../src/client/deploys';
import type { ProductionTarget } from '../../src/plan/environment';
import { shaTag } from '../../src/plan/tags';
import { deployWorkflowId, statusQuery } from '../../src/workflows/definitions';
import type { DeployPhase, DeployStatus } from '../../src/workflows/types';
import { INITIAL_TAG, IMAGES, OWNER, REPO, startRunningStack, type Stack } from '../support/stack';

/** deployctl's environment commands (status --env, pause, resume, targets, rollback) against a real stack. */
const BIN = resolve(__dirname, '../../dist/client/deployctl.js');
const OVERLAY = 'k8s/overlays/prod/kustomization.yaml';
let stack: Stack;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  ({ stack } = await startRunningStack());
}, 120_000);
afterEach(() => children.forEach((child) => child.kill('SIGKILL')));
afterAll(() => stack?.stop());

/** Runs deployctl as a person would: a child process with the stack's config, TEMPORAL_ADDRESS and USER. */
function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TEMPORAL_')));
  const child = spawn(process.execPath, [BIN, '--config', stack.configPath, ...args], {
    env: { ...env, TEMPORAL_ADDRESS: stack.temporal.address, USER: 'carol' },
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((ok) => child.once('close', (code) => (children.delete(child), ok({ code, stdout, stderr }))));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const handleOf = (commit: string) => stack.client.workflow.getHandle(deployWorkflowId(`${OWNER}/${REPO}`, commit));
const reached = (commit: string, phase: DeployPhase) =>
  until(`${commit.slice(0, 7)} to reach ${phase}`, async () =>
    (await handleOf(commit).query(statusQuery)).phase === phase ? true : undefined,
  );
const overlayTag = async () => /newTag: (\S+)/.exec(await stack.origin.readAt('main', OVERLAY))![1]!;
const envJson = async () => JSON.parse((await cli('--json', 'status', '--env', 'production')).stdout);

/** A code merge whose CI already passed and pushed its images, with its deploy started, as in test/e2e/production. */
async function codeMerge(file: string) {
  const before = await stack.origin.head();
  const commit = await stack.origin.commit({ [file]: `print(${Date.now()})\n` }, `feat: ${file}`);
  await stack.pushImages(shaTag(commit));
  stack.github.addRun({ owner: OWNER, repo: REPO, headSha: commit, status: 'completed', conclusion: 'success' });
  await startDeploy(stack.client, stack.config, { commit, before, requestedBy: 'test' });
  return { commit, tag: shaTag(commit) };
}

let deployedA: { commit: string; tag: string };
let deployedB: { commit: string; tag: string };

describe('deployctl environment usage', () => {
  test.each([
    [
      ['rollback', '--env', 'production', '--to', 'latest', '--reason', 'bad deploy'],
      /rollback target must be "previous" or a tag like sha-abc1234, got "latest"/,
    ],
    [['rollback', '--env', 'production', '--to', 'sha-abc123', '--reason', 'bad deploy'], /rollback target must be/],
    [['rollback', '--env', 'production', '--to', 'previous', '--reason', '  '], /a rollback needs a reason/],
    [['rollback', '--env', 'production', '--to', 'previous', '--reason', 'two\nlines'], /reason must be one line/],
    [['rollback', '--env', 'production', '--to', 'previous'], /required option '--reason <text>'/],
    [
      ['rollback', '--env', 'staging', '--to', 'previous', '--reason', 'x'],
      /--env staging: this configuration deploys the "production" environment/,
    ],
    [['pause', '--env', 'production'], /required option '--reason <text>'/],
    [['resume'], /required option '--env <name>'/],
    [['targets', '--env', 'prod'], /deploys the "production" environment/],
    [['targets', '--limit', '101'], /from 1 to 100/],
    [['status'], /give a commit, --env <name> or --pr <n>/],
    [['status', 'abc1234', '--env', 'production'], /give a commit, --env <name> or --pr <n>/],
    [['status', '--env', 'staging'], /deploys the "production" environment/],
  ])('%j exits 2 with the problem and a usage line', async (args, problem) => {
    const { code, stdout, stderr } = await cli(...(args as string[]));
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toMatch(problem);
    expect(stderr).toMatch(/^usage: deployctl \w+ /m);
  });
});

describe('deployctl against the production environment', () => {
  test('targets lists the overlay history with the images it finds (and starts the environment if needed)', async () => {
    const { code, stdout, stderr } = await cli('targets', '--env', 'production');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TAG +DEPLOYED +BY +FROM +IMAGES$/);
    expect(lines[1]).toMatch(
      new RegExp(`^${INITIAL_TAG} +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d +Test Author +manual +present$`),
    );
    const targets: ProductionTarget[] = JSON.parse((await cli('--json', 'targets', '--limit', '5')).stdout);
    expect(targets).toEqual([expect.objectContaining({ tag: INITIAL_TAG, kind: 'manual', imagesExist: true })]);
  });

  test('pause holds a ready deploy (status --env shows why), resume lets it through', async () => {
    const paused = await cli('pause', '--env', 'production', '--reason', 'incident 42', '--by', 'alice');
    expect({ code: paused.code, stderr: paused.stderr }).toEqual({ code: 0, stderr: '' });
    expect(paused.stdout).toMatch(/^paused +paused by alice: incident 42 \(since \d{4}-\d\d-\d\d \d\d:\d\d\)$/m);
    expect(paused.stdout).toMatch(/^resume with +deployctl resume --env production$/m);

    deployedA = await codeMerge('services/api/paused.py');
    await reached(deployedA.commit, 'held');
    const status = await cli('status', '--env', 'production');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^environment +production$/m);
    expect(status.stdout).toMatch(/^workflow +env-production \(running\)$/m);
    expect(status.stdout).toMatch(new RegExp(`^production +${INITIAL_TAG} since `, 'm'));
    expect(status.stdout).toMatch(/^queue +TAG +COMMIT +PATH +STATE +READY +WHY$/m);
    expect(status.stdout).toMatch(
      new RegExp(
        `^ +${deployedA.tag} +${deployedA.commit.slice(0, 7)} +code +held +\\d\\d:\\d\\d:\\d\\d +paused by alice: incident 42$`,
        'm',
      ),
    );
    expect(status.stdout).toMatch(
      new RegExp(`^requests +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d +${deployedA.commit.slice(0, 7)} +test$`, 'm'),
    );
    expect(await envJson()).toMatchObject({
      workflowId: 'env-production',
      execution: 'RUNNING',
      paused: { by: 'alice' },
      queue: [{ commit: deployedA.commit, state: 'held' }],
    });

    const resumed = await cli('resume', '--env', 'production');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).not.toMatch(/^(paused|held) /m);
    expect(await handleOf(deployedA.commit).result()).toMatchObject({ phase: 'succeeded', tag: deployedA.tag });
    const after = await envJson();
    expect(after.paused).toBeUndefined();
    expect(after).toMatchObject({
      production: { tag: deployedA.tag },
      queue: [],
      outcomes: [expect.objectContaining({ kind: 'deployed', tag: deployedA.tag })],
    });
  });

  test('a tag whose images are gone shows missing, and a rollback to it is refused with the overlay untouched (exit 1)', async () => {
    deployedB = await codeMerge('services/api/second.py');
    expect((await handleOf(deployedB.commit).result()) as DeployStatus).toMatchObject({ phase: 'succeeded' });
    for (const image of IMAGES) await stack.registry.deleteImage(image, INITIAL_TAG); // registry retention
    const targets = await cli('targets', '--env', 'production');
    expect(targets.code).toBe(0);
    const rows = targets.stdout.trim().split('\n').slice(1);
    expect(rows.map((row) => row.split(/ +/)[0])).toEqual([deployedB.tag, deployedA.tag, INITIAL_TAG]);
    expect(rows[0]).toMatch(new RegExp(` ${deployedB.commit.slice(0, 7)} +present$`));
    expect(rows[2]).toMatch(/ manual +missing$/);

    const head = await stack.origin.head();
    const refused = await cli(
      'rollback',
      '--env',
      'production',
      '--to',
      INITIAL_TAG,
      '--reason',
      'try the old one',
      '--interval',
      '300ms',
    );
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      new RegExp(`^\\d\\d:\\d\\d:\\d\\d  sent +rollback to ${INITIAL_TAG} by carol: try the old one$`, 'm'),
    );
    expect(refused.stdout).toMatch(
      new RegExp(
        `^\\d\\d:\\d\\d:\\d\\d  rollback-refused +${INITIAL_TAG}: rollback to ${INITIAL_TAG} refused, the overlay is untouched: .*image not found`,
        'm',
      ),
    );
    expect(await stack.origin.head()).toBe(head);
    expect(await overlayTag()).toBe(deployedB.tag);

    const json = await cli(
      '--json',
      'rollback',
      '--env',
      'production',
      '--to',
      INITIAL_TAG,
      '--reason',
      'again',
      '--by',
      'dave',
    );
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      workflowId: 'env-production',
      request: { to: INITIAL_TAG, reason: 'again', requestedBy: 'dave' },
      outcome: { kind: 'rollback-refused', tag: INITIAL_TAG },
    });
    expect((await envJson()).held).toBeUndefined();
  });

  test('a rollback to previous commits the earlier tag, exits 0 and holds production until resume', async () => {
    const rolled = await cli(
      'rollback',
      '--env',
      'production',
      '--to',
      'previous',
      '--reason',
      'errors after deploy',
      '--by',
      'alice',
      '--interval',
      '200ms',
    );
    expect({ code: rolled.code, stderr: rolled.stderr }).toEqual({ code: 0, stderr: '' });
    expect(rolled.stdout).toMatch(
      new RegExp(
        `^\\d\\d:\\d\\d:\\d\\d  rolled-back +${deployedA.tag}: rolled back to ${deployedA.tag} by alice: errors after deploy$`,
        'm',
      ),
    );
    expect(rolled.stdout).toContain(
      `production is held at ${deployedA.tag}; deploys wait until: deployctl resume --env production`,
    );
    expect(await overlayTag()).toBe(deployedA.tag);
    const [commit] = await stack.origin.log(OVERLAY);
    expect(commit!.subject).toBe(`rollback: revert to ${deployedA.tag} [skip ci]`);
    expect(commit!.body).toContain('Requested-By: alice');

    const status = await cli('status', '--env', 'production');
    expect(status.stdout).toMatch(new RegExp(`^production +${deployedA.tag} since .* by alice$`, 'm'));
    expect(status.stdout).toMatch(
      new RegExp(`^held +rolled back to ${deployedA.tag} by alice: errors after deploy \\(since `, 'm'),
    );
    expect(status.stdout).toMatch(
      new RegExp(`^outcomes +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d +rolled-back +${deployedA.tag} +rolled back`, 'm'),
    );
    const targets: ProductionTarget[] = JSON.parse((await cli('--json', 'targets')).stdout);
    expect(targets[0]).toMatchObject({ tag: deployedA.tag, kind: 'rollback', by: 'alice', imagesExist: true });

    const resumed = await cli('--json', 'resume', '--env', 'production', '--by', 'alice');
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ production: { tag: deployedA.tag } });
    expect(JSON.parse(resumed.stdout).held).toBeUndefined();
    expect((await cli('status', '--env', 'production')).stdout).not.toMatch(/^held /m);
  });
});
