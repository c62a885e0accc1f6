/**
 * The event path: CI finished → overlay committed and pushed, for production merges and for
 * pushes to a pull request's preview. Runs on the real local stack (dev
 * server, the worker's own entry point, git, HTTPS registry, stand-ins) and signals ciCompleted
 * exactly as the webhook relay does, then times each merge.
 *
 *   npm run bench [-- --merges 20] [-- --origin file]
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { RepoCache } from '../src/activities/git';
import { historySteps } from '../src/activities/history';
import { historyDeps } from '../src/activities/index';
import { deployIdOf, deployStatus, requestPreview, signalCiCompleted, startDeploy } from '../src/client/deploys';
import { statusQuery, type DeployStatus } from '../src/contract/deploy';
import { prTag, shaTag } from '../src/plan/tags';
import { INITIAL_TAG, OWNER, REPO, startStack } from '../harness/stack';

const merges = Number(process.argv[process.argv.indexOf('--merges') + 1]) || 10;
// `--origin file` measures against a file:// origin: the deployer's own cost without the test git server's.
const origin =
  process.argv.includes('--origin') && process.argv[process.argv.indexOf('--origin') + 1] === 'file' ? 'file' : 'https';

function stats(label: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const fmt = (ms: number) => `${ms.toFixed(0).padStart(5)} ms`;
  return `${label.padEnd(50)} min ${fmt(sorted[0]!)}  median ${fmt(at(0.5))}  p95 ${fmt(at(0.95))}  max ${fmt(sorted.at(-1)!)}`;
}

async function main(): Promise<void> {
  const stack = await startStack({}, { origin });
  try {
    await stack.pushImages(INITIAL_TAG);
    await stack.startWorker();
    const wall: number[] = [];
    const validate: number[] = [];
    const commit: number[] = [];
    for (let i = 0; i < merges; i++) {
      const before = await stack.origin.head();
      const sha = await stack.origin.commit({ 'services/api/main.py': `print(${i})\n` }, `feat: change ${i}`);
      await stack.pushImages(shaTag(sha));
      const run = stack.github.addRun({ owner: OWNER, repo: REPO, headSha: sha, status: 'in_progress' });
      // Update-with-start of the environment, which starts the deploy as its child before it answers.
      const started = await startDeploy(stack.client, stack.config, { commit: sha, before });
      if (!started.started) throw new Error(`no deploy of ${sha.slice(0, 7)} was started: ${started.note}`);
      while ((await deployStatus(stack.client, stack.config, sha)).phase !== 'waiting-for-ci')
        await new Promise((r) => setTimeout(r, 5));

      stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' });
      const t0 = performance.now();
      await signalCiCompleted(stack.client, stack.config, {
        id: run.id,
        status: 'completed',
        conclusion: 'success',
        url: run.html_url,
        headSha: sha,
      });
      let status: DeployStatus;
      while ((status = await deployStatus(stack.client, stack.config, sha)).overlayCommit === undefined)
        await new Promise((r) => setTimeout(r, 2));
      wall.push(performance.now() - t0);
      const at = (phase: keyof DeployStatus['phases']) => Date.parse(status.phases[phase]!);
      validate.push(at('committing') - at('validating'));
      commit.push(at('syncing') - at('committing'));
      await stack.client.workflow.getHandle(deployIdOf(stack.config, sha)).result();
    }
    console.log(
      `\nEvent path over ${merges} merges (2 images, git origin over ${origin === 'https' ? 'HTTPS' : 'file://'}, HTTPS registry), load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}:`,
    );
    console.log(stats('ciCompleted signal → overlay pushed (wall)', wall));
    console.log(stats('  validate-images step (workflow time)', validate));
    console.log(stats('  update-overlay step: fetch, edit, commit, push', commit));

    // The same path for a pull request: each push waits for its pull_request CI run, then its preview.
    const PR = 1;
    const branch = 'feature/bench';
    const preview: number[] = [];
    await stack.origin.commitOn(branch, { 'services/api/main.py': 'print("pr")\n' }, 'feat: open the PR');
    await stack.github.addPullRequest({ owner: OWNER, repo: REPO, number: PR, headRef: branch });
    await stack.argo.addApplication({
      name: `yt-summarizer-pr-${PR}`,
      targetRevision: branch,
      overlayPath: 'k8s/overlays/preview',
    });
    for (let i = 0; i < merges; i++) {
      const sha = await stack.origin.commitOn(
        branch,
        { 'services/api/main.py': `print("pr ${i}")\n` },
        `feat: push ${i}`,
      );
      await stack.pushImages(prTag(PR, sha));
      const run = stack.github.addRun({
        owner: OWNER,
        repo: REPO,
        headSha: sha,
        event: 'pull_request',
        branch,
        pullRequests: [PR],
        status: 'in_progress',
      });
      const requested = await requestPreview(stack.client, stack.config, PR, { commit: sha });
      if (!requested.started) throw new Error(`no preview deploy of ${sha.slice(0, 7)} was started: ${requested.note}`);
      const handle = stack.client.workflow.getHandle(deployIdOf(stack.config, sha, PR));
      while ((await handle.query(statusQuery).catch(() => undefined))?.phase !== 'waiting-for-ci')
        await new Promise((r) => setTimeout(r, 5));

      stack.github.setRun(run.id, { status: 'completed', conclusion: 'success' });
      const t0 = performance.now();
      await signalCiCompleted(
        stack.client,
        stack.config,
        { id: run.id, status: 'completed', conclusion: 'success', url: run.html_url, headSha: sha },
        PR,
      );
      while ((await handle.query(statusQuery)).overlayCommit === undefined) await new Promise((r) => setTimeout(r, 2));
      preview.push(performance.now() - t0);
    }
    console.log(`\nPreview event path over ${merges} pushes to one pull request:`);
    console.log(stats('ciCompleted signal → preview overlay pushed (wall)', preview));

    // Ordering a queue: the step the environment runs before a turn, over 40 and 200 queued commits of main.
    const { orderCommits } = historySteps(
      historyDeps(
        stack.config,
        new RepoCache({
          cloneUrl: stack.origin.url,
          cacheDir: `${stack.dir}/bench-cache`,
          branch: 'main',
          author: { name: 'bench', email: 'bench@example.com' },
        }),
        async () => true,
      ),
    );
    const queued: string[] = [];
    for (let i = 0; i < 200; i++)
      queued.push(await stack.origin.commit({ [`services/api/queued-${i}.py`]: `${i}\n` }, `feat: queued ${i}`));
    await orderCommits({ commits: queued.slice(0, 2) }); // the first call clones
    for (const size of [40, 200]) {
      const times: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        const heads = await orderCommits({ commits: [...queued.slice(0, size)].reverse() });
        times.push(performance.now() - t0);
        if (heads.length !== 1 || heads[0] !== queued[size - 1])
          throw new Error(`order-commits answered ${heads.join(',')}`);
      }
      console.log(stats(`order-commits: ${size} queued (one git merge-base --independent)`, times));
    }
  } finally {
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
