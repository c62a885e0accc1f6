/**
 * `npm run sandbox:merge -- --code|--k8s|--docs [--pr N] [--fail-ci] [--ci-seconds N] [--json]`:
 * merges a change into the running sandbox's origin (with --pr, pushes it to pull request N's
 * branch instead) through its control endpoint, which sends GitHub's signed webhooks to the real
 * relay, then prints how to watch the deploy.
 */
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { readState, type ChangeKind, type MergeResult, type SandboxState } from './state';

const USAGE =
  'usage: npm run sandbox:merge -- --code|--k8s|--docs [--pr N] [--fail-ci] [--ci-seconds N] [--json] [--control URL]';

class UsageError extends Error {}

const EXPECT: Record<ChangeKind, string> = {
  code: 'succeeded, with one "deploy: production to sha-<7> [skip ci]" overlay commit on main',
  k8s: 'succeeded, re-validating the running tag, with no overlay commit',
  docs: 'skipped: nothing to deploy',
};

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      code: { type: 'boolean' },
      k8s: { type: 'boolean' },
      docs: { type: 'boolean' },
      'fail-ci': { type: 'boolean' },
      'ci-seconds': { type: 'string' },
      pr: { type: 'string' },
      json: { type: 'boolean' },
      control: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  const kinds = (['code', 'k8s', 'docs'] as const).filter((k) => values[k]);
  if (kinds.length !== 1) throw new UsageError('choose exactly one of --code, --k8s, --docs');
  const kind = kinds[0]!;
  const ciSeconds = values['ci-seconds'] === undefined ? undefined : Number(values['ci-seconds']);
  if (ciSeconds !== undefined && !(Number.isFinite(ciSeconds) && ciSeconds >= 0 && ciSeconds <= 3600))
    throw new UsageError('--ci-seconds takes a number of seconds from 0 to 3600');
  if (kind !== 'code' && (values['fail-ci'] || ciSeconds !== undefined))
    throw new UsageError('--fail-ci and --ci-seconds apply to --code merges only (only code needs images built)');
  const pr = values.pr === undefined ? undefined : Number(values.pr);
  if (pr !== undefined && !(Number.isInteger(pr) && pr > 0 && pr < 100))
    throw new UsageError('--pr takes a pull request number from 1 to 99');
  return {
    kind,
    pr,
    failCi: values['fail-ci'] === true,
    ciSeconds,
    json: values.json === true,
    control: values.control,
  };
}

/** --control, else SANDBOX_CONTROL_URL, else what the running sandbox wrote, else the default port. */
function controlUrl(flag?: string): string {
  return (
    flag ??
    process.env.SANDBOX_CONTROL_URL ??
    readState()?.controlUrl ??
    `http://127.0.0.1:${process.env.SANDBOX_CONTROL_PORT ?? 8788}`
  );
}

async function call<T>(url: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    throw new Error(
      `no sandbox answers at ${new URL(url).origin} (${(err as Error).cause ?? (err as Error).message}): start one with \`npm run sandbox\``,
    );
  }
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(`the sandbox refused the merge (${res.status}): ${body.error}`);
  return body;
}

function report(result: MergeResult, state: SandboxState): void {
  const sha7 = result.sha.slice(0, 7);
  const config = relative(process.cwd(), state.configPath).startsWith('..')
    ? state.configPath
    : relative(process.cwd(), state.configPath);
  const deployctl = `TEMPORAL_ADDRESS=${state.temporalAddress} node dist/cli/deployctl.js --config ${config}`;
  const relay = result.push.body;
  const lines = result.pr
    ? [
        `Pushed ${sha7} "${result.subject}" to ${result.branch}, the branch of pull request #${result.pr} (${result.files.join(', ')}).`,
        `pull_request webhook -> relay: ${result.push.status} ${relay.forwarded === true ? `forwarded to ${relay.workflowId}, which starts ${relay.deployWorkflowId ?? "the head's deploy"}` : JSON.stringify(relay)}`,
      ]
    : [
        `Merged ${sha7} "${result.subject}" into main (${result.files.join(', ')}).`,
        `push webhook -> relay: ${result.push.status} ${relay.requested === true ? `requested ${relay.workflowId} (the production environment starts it)` : JSON.stringify(relay)}`,
      ];
  if (result.ci) {
    lines.push(
      result.ci.conclusion === 'success'
        ? `CI run ${result.ci.runId} is in progress: in ${result.ci.seconds}s it pushes ${result.ci.tag} to the registry, completes and sends a workflow_run webhook.`
        : `CI run ${result.ci.runId} is in progress: in ${result.ci.seconds}s it fails (no images) and sends a workflow_run webhook.`,
    );
  }
  const expected =
    result.ci?.conclusion === 'failure'
      ? `failed: the CI run failed; ${result.pr ? 'the preview' : 'production'} is untouched`
      : result.pr
        ? `as the preview rules say for #${result.pr} (\`status --pr ${result.pr}\` names the rule and the tag)`
        : EXPECT[result.kind];
  lines.push(
    `Expect the deploy to end ${expected}.`,
    '',
    'Watch it:',
    ...(state.uiUrl ? [`  ${state.uiUrl}/namespaces/${state.namespace}/workflows/${result.workflowId}`] : []),
    ...(result.pr
      ? [
          `  ${deployctl} watch --pr ${result.pr} ${sha7}`,
          `  ${deployctl} status --pr ${result.pr}`,
          `  ${deployctl} list --pr ${result.pr}`,
        ]
      : [`  ${deployctl} watch ${sha7}`, `  ${deployctl} status ${sha7}`, `  ${deployctl} list`]),
  );
  console.log(lines.join('\n'));
}

async function main(argv: string[]): Promise<number> {
  const opts = parse(argv);
  if (!opts) return (console.log(USAGE), 0);
  const base = controlUrl(opts.control);
  const state = await call<SandboxState>(`${base}/state`);
  const result = await call<MergeResult>(`${base}/merge`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: opts.kind, failCi: opts.failCi, ciSeconds: opts.ciSeconds, pr: opts.pr }),
  });
  if (opts.json) console.log(JSON.stringify(result, null, 2));
  else report(result, state);
  // The relay answers 202 for everything it accepted; anything else means the webhook was lost.
  return result.push.status === 202 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(
      err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
        ? `${err.message}\n${USAGE}`
        : `sandbox:merge: ${err.message}`,
    );
    process.exit(err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1);
  },
);
