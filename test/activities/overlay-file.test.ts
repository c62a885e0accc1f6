import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { historyDeps, overlayDeps } from '../../src/activities';
import { historySteps } from '../../src/activities/history';
import { overlaySteps } from '../../src/activities/overlay';
import { localRepo } from '../support/local-repo';
import { createOrigin, type Origin } from '../../harness/origin';

/** An overlay broken by hand on main: every step that reads it fails at once, naming file and line. */
const OVERLAY = 'k8s/overlays/prod/kustomization.yaml';
let dir: string;
let origin: Origin;
let steps: ReturnType<typeof overlaySteps> & ReturnType<typeof historySteps>;
let broken: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'overlay-file-'));
  origin = await createOrigin({ root: dir });
  const { config, repo } = localRepo(origin, dir);
  steps = {
    ...overlaySteps(overlayDeps(config, repo)),
    ...historySteps(historyDeps(config, repo, async () => true)),
  };
  const text = await origin.readAt('main', OVERLAY);
  broken = await origin.commit(
    { [OVERLAY]: text.replace('    newTag: sha-e43f28a  # current production', '    newTag: [sha-e43f28a') },
    'chore: hand edit gone wrong',
  );
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

test.each([
  [
    'update-overlay',
    () => steps.updateOverlay({ kind: 'deploy', tag: 'sha-1234567', commit: broken, workflowId: 'deploy-x' }),
  ],
  ['list-targets (deployctl targets, rollbacks)', () => steps.listTargets({ limit: 5 })],
  ['read-running-tag (k8s-only merges)', () => steps.readRunningTag({ commit: broken })],
])('%s: permanent, naming the file and the line', async (_, run) => {
  const err = await failure(run());
  expect(err.nonRetryable).toBe(true);
  expect(err.type).toBe('OverlayError');
  expect(err.message).toMatch(
    new RegExp(
      `${OVERLAY.replace(/\./g, '\\.')} (on main|at ${broken.slice(0, 7)}): kustomization is not valid YAML at line \\d+, column \\d+`,
    ),
  );
  expect(err.message).not.toContain('\n');
  expect(await origin.head()).toBe(broken);
});
