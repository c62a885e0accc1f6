import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { startDeploy } from '../../src/client/deploys';
import type { ProductionTarget } from '../../src/plan/environment';
import { shaTag } from '../../src/plan/tags';
import { statusQuery, type DeployPhase, type DeployStatus } from '../../src/contract/deploy';
import { deployWorkflowId, environmentWorkflowId } from '../../src/contract/ids';
import type { Target } from '../../src/contract/target';
import { INITIAL_TAG, IMAGES, OWNER, REPO, startRunningStack, type Stack } from '../../harness/stack';

/** deployctl's environment commands (status --env, pause, resume, targets, rollback) against a real stack. */
const BIN = resolve(__dirname, '../../dist/cli/deployctl.js');
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

const PRODUCTION: Target = { kind: 'production', name: 'production' };
const ENV_ID = environmentWorkflowId(`${OWNER}/${REPO}`, PRODUCTION);
const handleOf = (commit: string) =>
  stack.client.workflow.getHandle(deployWorkflowId(`${OWNER}/${REPO}`, PRODUCTION, commit));
const reached = (commit: string, phase: DeployPhase) =>
  until(`${commit.slice(0, 7)} to reach ${phase}`, async () =>
    (await handleOf(commit).query(statusQuery)).phase === phase ? true : undefined,
  );
const overlayTag = async () => /newTag: (\S+)/.exec(await stack.origin.readAt('main', OVERLAY))![1]!;
const envJson = async () => JSON.parse((await cli('--json', 'status', '--env', 'production')).stdout);
/** `HH:MM:SS  accepted          rollback to ...`: printed once a worker accepted the rollback, before its outcome. */
const acceptedLine = (to: string, by: string, reason: string) =>
  new RegExp(`^\\d\\d:\\d\\d:\\d\\d  accepted +rollback to ${to} by ${by}: ${reason}$`, 'm');
const ROLLBACK_ID = /^env-production\/rollback-\d+$/;

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
    [
      ['rollback', '--env', 'production', '--to', 'latest', '--reason', 'bad deploy', '--no-wait'],
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

  test('a bad request is refused before anything is sent: no environment workflow was even started', async () => {
    for (const wait of [[], ['--no-wait'], ['--json']]) {
      const bad = await cli('rollback', '--env', 'production', '--to', 'latest', '--reason', 'bad deploy', ...wait);
      expect(bad.code).toBe(2);
    }
    // The tests above ran every refused command against this server; none of them reached it.
    await expect(stack.client.workflow.getHandle(ENV_ID).describe()).rejects.toMatchObject({
      name: 'WorkflowNotFoundError',
    });
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
    // The pause update answers with the environment's view as it is after the pause.
    expect(paused.stdout).toMatch(/^workflow +env-production \(running\)$/m);
    const pausedJson = await cli('--json', 'pause', '--env', 'production', '--reason', 'incident 42', '--by', 'alice');
    expect(pausedJson.code).toBe(0);
    expect(JSON.parse(pausedJson.stdout)).toMatchObject({
      workflowId: ENV_ID,
      execution: 'RUNNING',
      target: PRODUCTION,
      current: { tag: INITIAL_TAG },
      paused: { by: 'alice', reason: 'paused by alice: incident 42' },
      queue: [],
    });

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
    expect(resumed.stdout).toMatch(/^workflow +env-production \(running\)$/m);
    expect(resumed.stdout).not.toMatch(/^(paused|held|resume with) /m);
    expect(await handleOf(deployedA.commit).result()).toMatchObject({ phase: 'succeeded', tag: deployedA.tag });
    const after = await envJson();
    expect(after.paused).toBeUndefined();
    expect(after).toMatchObject({
      current: { tag: deployedA.tag },
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
    const refused = await cli('rollback', '--env', 'production', '--to', INITIAL_TAG, '--reason', 'try the old one');
    expect({ code: refused.code, stderr: refused.stderr }).toEqual({ code: 1, stderr: '' });
    const lines = refused.stdout.trim().split('\n');
    expect(lines).toHaveLength(2); // accepted, then the outcome
    expect(lines[0]).toMatch(acceptedLine(INITIAL_TAG, 'carol', 'try the old one'));
    expect(lines[1]).toMatch(
      new RegExp(
        `^\\d\\d:\\d\\d:\\d\\d  rollback-refused +${INITIAL_TAG}: rollback to ${INITIAL_TAG} refused, the overlay is untouched: .*image not found`,
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
    // An identical refusal a moment ago is not this one's answer: each rollback gets its own outcome.
    const answer = JSON.parse(json.stdout);
    expect(answer).toMatchObject({
      workflowId: 'env-production',
      request: { to: INITIAL_TAG, reason: 'again', requestedBy: 'dave' },
      outcome: {
        kind: 'rollback-refused',
        tag: INITIAL_TAG,
        by: 'dave',
        workflowId: expect.stringMatching(ROLLBACK_ID),
      },
    });
    const env = await envJson();
    expect(env.held).toBeUndefined();
    const refusals = env.outcomes.filter((o: { kind: string }) => o.kind === 'rollback-refused');
    expect(refusals).toEqual([
      expect.objectContaining({ by: 'carol', tag: INITIAL_TAG }),
      expect.objectContaining({ by: 'dave', tag: INITIAL_TAG, workflowId: answer.outcome.workflowId }),
    ]);
    expect(refusals[0].workflowId).not.toBe(refusals[1].workflowId);
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
    );
    expect({ code: rolled.code, stderr: rolled.stderr }).toEqual({ code: 0, stderr: '' });
    expect(rolled.stdout.split('\n')[0]).toMatch(acceptedLine('previous', 'alice', 'errors after deploy'));
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
    expect(JSON.parse(resumed.stdout)).toMatchObject({
      workflowId: ENV_ID,
      execution: 'RUNNING',
      current: { tag: deployedA.tag },
    });
    expect(JSON.parse(resumed.stdout).held).toBeUndefined();
    expect((await cli('status', '--env', 'production')).stdout).not.toMatch(/^held /m);
  });

  test('--no-wait sends the rollback signal, which is carried out; a rollback waiting behind it gets its own outcome', async () => {
    const sent = await cli(
      'rollback',
      '--env',
      'production',
      '--to',
      deployedB.tag,
      '--reason',
      'forward again',
      '--by',
      'bob',
      '--no-wait',
    );
    expect({ code: sent.code, stderr: sent.stderr }).toEqual({ code: 0, stderr: '' });
    expect(sent.stdout.trim().split('\n')).toEqual([
      `sent rollback to ${deployedB.tag} by bob: forward again`,
      'follow it with: deployctl status --env production',
    ]);

    // Sent while bob's still resolves, validates or syncs: its answer is its own refusal, not bob's rollback.
    const mine = await cli(
      '--json',
      'rollback',
      '--env',
      'production',
      '--to',
      INITIAL_TAG,
      '--reason',
      'mine',
      '--by',
      'carol',
    );
    expect(mine.code).toBe(1);
    expect(JSON.parse(mine.stdout)).toMatchObject({
      workflowId: ENV_ID,
      request: { to: INITIAL_TAG, reason: 'mine', requestedBy: 'carol' },
      outcome: {
        kind: 'rollback-refused',
        tag: INITIAL_TAG,
        by: 'carol',
        workflowId: expect.stringMatching(ROLLBACK_ID),
      },
    });

    // Bob's signal was carried out all the same: committed, synced, and production held there.
    const held = await until('the signalled rollback to be carried out', async () => {
      const env = await envJson();
      return env.outcomes.some((o: { kind: string; by?: string }) => o.kind === 'rolled-back' && o.by === 'bob')
        ? env
        : undefined;
    });
    expect(held).toMatchObject({
      current: { tag: deployedB.tag, by: 'bob' },
      held: { tag: deployedB.tag, by: 'bob', reason: `rolled back to ${deployedB.tag} by bob: forward again` },
      pendingRollbacks: [],
    });
    expect(await overlayTag()).toBe(deployedB.tag);
    const [commit] = await stack.origin.log(OVERLAY);
    expect(commit!.subject).toBe(`rollback: revert to ${deployedB.tag} [skip ci]`);
    expect(commit!.body).toContain('Requested-By: bob');

    // --json --no-wait says what was sent; a refused one shows up in the environment's outcomes.
    const json = await cli(
      '--json',
      'rollback',
      '--env',
      'production',
      '--to',
      INITIAL_TAG,
      '--reason',
      'once more',
      '--by',
      'erin',
      '--no-wait',
    );
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      workflowId: ENV_ID,
      request: { to: INITIAL_TAG, reason: 'once more', requestedBy: 'erin' },
      sent: true,
    });
    await until('the signalled refusal to be recorded', async () =>
      (await envJson()).outcomes.find(
        (o: { kind: string; by?: string }) => o.kind === 'rollback-refused' && o.by === 'erin',
      ),
    );
    expect(await overlayTag()).toBe(deployedB.tag);

    const resumed = await cli('resume', '--env', 'production', '--by', 'bob');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).not.toMatch(/^held /m);
  });

  test('a rollback Argo CD reports Degraded ends failed: exit 1, with what Argo CD said', async () => {
    stack.argo.forceHealth('Degraded', 'Back-off restarting failed container api');
    try {
      const failed = await cli(
        'rollback',
        '--env',
        'production',
        '--to',
        deployedA.tag,
        '--reason',
        'try A',
        '--by',
        'frank',
      );
      expect({ code: failed.code, stderr: failed.stderr }).toEqual({ code: 1, stderr: '' });
      const lines = failed.stdout.trim().split('\n');
      expect(lines).toHaveLength(2); // accepted, then the outcome; no "held" hint for a failure
      expect(lines[0]).toMatch(acceptedLine(deployedA.tag, 'frank', 'try A'));
      expect(lines[1]).toMatch(
        new RegExp(
          `^\\d\\d:\\d\\d:\\d\\d  failed +${deployedA.tag}: rollback to ${deployedA.tag}: Argo CD reports Degraded .*Back-off restarting failed container api$`,
        ),
      );
      expect(await overlayTag()).toBe(deployedA.tag); // committed: what runs is what git says
    } finally {
      stack.argo.clearForce();
    }
    expect((await cli('resume', '--env', 'production', '--by', 'frank')).code).toBe(0);
  });
});
