import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { historyDeps } from '../../src/activities';
import { historySteps } from '../../src/activities/history';
import { localRepo } from '../support/local-repo';
import { createOrigin, type Origin } from '../../harness/origin';

/** The order step against a real origin: one `merge-base --independent` per call, whatever the count. */
let origin: Origin;
let dir: string;
let orderCommits: ReturnType<typeof historySteps>['orderCommits'];
const linear: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'order-'));
  origin = await createOrigin({ root: dir });
  for (let i = 0; i < 40; i++)
    linear.push(await origin.commit({ [`services/api/change-${i}.py`]: `${i}\n` }, `change ${i}`));
  const { config, repo } = localRepo(origin, dir);
  ({ orderCommits } = historySteps(historyDeps(config, repo, async () => true)));
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shuffled = <T>(items: T[]) =>
  items
    .map((item, i) => ({ item, key: (i * 7919) % items.length }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.item);

test('forty queued commits of main in any order: the newest is the one head', async () => {
  expect(await orderCommits({ commits: shuffled(linear) })).toEqual([linear.at(-1)]);
  expect(await orderCommits({ commits: linear.slice(0, 10) })).toEqual([linear[9]]);
});

test('a single commit, duplicates and upper case are taken as they are', async () => {
  expect(await orderCommits({ commits: [linear[3]!] })).toEqual([linear[3]]);
  expect(await orderCommits({ commits: [linear[3]!, linear[3]!.toUpperCase(), linear[5]!] })).toEqual([linear[5]]);
});

test('commits on unrelated lines are both heads; their ancestors are not', async () => {
  // side and next both start at main's tip: neither contains the other.
  const side = await origin.commitOn('side', { 'services/api/side.py': 'x\n' }, 'side work');
  const next = await origin.commit({ 'services/api/next.py': 'y\n' }, 'next on main');
  const heads = await orderCommits({ commits: [linear[1]!, side, linear[20]!, next, linear[2]!] });
  expect(heads.sort()).toEqual([side, next].sort());
});

test('a commit the clone does not have yet is fetched first', async () => {
  const fresh = await origin.commit({ 'services/api/fresh.py': 'fresh\n' }, 'fresh');
  expect(await orderCommits({ commits: [linear[0]!, fresh] })).toEqual([fresh]);
});

test('a commit that exists nowhere is a permanent failure, and more than a batch is refused', async () => {
  const missing = await orderCommits({ commits: [linear[0]!, '0123456789abcdef0123456789abcdef01234567'] }).catch(
    (e: unknown) => e,
  );
  expect(missing).toBeInstanceOf(ApplicationFailure);
  expect((missing as ApplicationFailure).nonRetryable).toBe(true);
  expect((missing as ApplicationFailure).message).toMatch(/does not exist/);
  const tooMany = await orderCommits({ commits: Array.from({ length: 201 }, () => linear[0]!) }).catch(
    (e: unknown) => e,
  );
  expect((tooMany as ApplicationFailure).type).toBe('BadInput');
});

test('git is asked once per call, not once per pair', async () => {
  // A git on PATH that logs each invocation, then runs the real one.
  const shim = join(dir, 'shim');
  mkdirSync(shim);
  const log = join(dir, 'git-calls.log');
  const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  writeFileSync(join(shim, 'git'), `#!/bin/sh\necho "$1" >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
  const path = process.env.PATH;
  process.env.PATH = `${shim}:${path}`;
  try {
    expect(await orderCommits({ commits: shuffled(linear) })).toEqual([linear.at(-1)]);
  } finally {
    process.env.PATH = path;
  }
  expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(['merge-base']);
});
