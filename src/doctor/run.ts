import type { Connection } from '@temporalio/client';
import type { ActivityDeps } from '../activities';
import { withoutSecrets } from '../activities/faults';
import { ConfigError, loadConfig } from '../config/load';
import { preflight, type PreflightProblem } from '../config/preflight';
import type { DeployConfig } from '../config/schema';
import { secretsFromEnv } from '../observe/log';
import { connectClient, temporalTarget, type TemporalTarget } from '../temporal/connection';
import { createDeps } from '../worker/deps';
import { CHECK_IDS, fail, pass, warn, type CheckId, type CheckReport, type DoctorReport, type Outcome } from './check';
import { CHECKS, PREFLIGHT_SUBJECTS, TITLES } from './checks';
import { once, type DoctorContext } from './context';
import { readIdentity } from './github-token';
import { readOverlayAtMain } from './overlay';
import { problemOf } from './problems';

export interface DoctorOptions {
  configPath: string;
  env?: NodeJS.ProcessEnv;
  /** deployctl's connection flags (--address, --namespace, TLS, API key); the environment fills the rest. */
  temporal?: Partial<TemporalTarget>;
  connectTimeoutMs?: number;
  /** Called with each check's report as it completes, in order. */
  onCheck?: (report: CheckReport) => void;
  now?: () => number;
  /** The worker's real clients by default, so doctor checks exactly what the worker will use. */
  createDeps?: (config: DeployConfig, env: NodeJS.ProcessEnv) => ActivityDeps;
}

/** A check that takes longer than this is reported failed; every request in it has its own 15 s deadline too. */
const CHECK_TIMEOUT_MS = 60_000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result within ${ms / 1000}s`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

const claimed = new Set(Object.values(PREFLIGHT_SUBJECTS).flat());
const isClaimed = (p: PreflightProblem) => [...claimed].some((s) => p.subject === s || p.subject.startsWith(`${s}.`));

/** The configuration loads and validates, or the ConfigError's problems, one per field. */
function loadOrExplain(configPath: string): { config: DeployConfig } | { outcome: Outcome } {
  try {
    return { config: loadConfig(configPath) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return {
      outcome: fail(
        `invalid configuration in ${err.source}`,
        'fix each field named above (the annotated example is examples/deploy.config.yaml)',
        err.problems,
      ),
    };
  }
}

/** A loaded configuration, with the start checks no other check reports on (a `<placeholder>` left in a field). */
function configOutcome(config: DeployConfig, checks: PreflightProblem[]): Outcome {
  const { owner, name, mainBranch } = config.repository;
  const summary = `${owner}/${name} on ${mainBranch}, ${config.images.length} images, environment ${config.environment.name}`;
  const mine = checks.filter((p) => !isClaimed(p));
  const details = mine.map((p) => `${p.severity === 'error' ? '✖' : '⚠'} ${p.problem} (fix: ${p.fix})`);
  const error = mine.find((p) => p.severity === 'error');
  if (error) return fail(`${summary}; but the worker would refuse to start`, error.fix, details);
  if (mine.length) return warn(summary, mine[0]!.fix, details);
  return pass(summary);
}

/** Tokens never reach the output: exact values from the environment, and anything shaped like one. */
function redactor(env: NodeJS.ProcessEnv): (text: string) => string {
  const secrets = secretsFromEnv(env);
  return (text) => withoutSecrets(secrets.reduce((t, secret) => t.split(secret).join('***'), text));
}

/**
 * `deployctl doctor`: every check in order, each reported as it completes; a check whose
 * prerequisite did not pass is skipped with the reason. Never throws for what it finds.
 */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const { configPath, env = process.env, now = Date.now } = options;
  const clean = redactor(env);
  const reports: CheckReport[] = [];
  const emit = (id: CheckId, outcome: Outcome | { status: 'skip'; summary: string }, durationMs: number) => {
    const full = { details: [], ...outcome };
    const report: CheckReport = {
      id,
      title: TITLES[id],
      status: full.status,
      summary: clean(full.summary),
      details: full.details.map(clean),
      ...('fix' in full && full.fix ? { fix: clean(full.fix) } : {}),
      durationMs,
    };
    reports.push(report);
    options.onCheck?.(report);
  };
  const done = (): DoctorReport => ({
    ok: reports.every((r) => r.status === 'pass' || r.status === 'warn'),
    configPath,
    checks: reports,
  });

  const started = now();
  const loaded = loadOrExplain(configPath);
  if ('outcome' in loaded) {
    emit('config', loaded.outcome, now() - started);
    for (const id of CHECK_IDS.slice(1))
      emit(id, { status: 'skip', summary: 'skipped: the configuration did not load' }, 0);
    return done();
  }
  const { config } = loaded;
  const checks = preflight(config, env, 'worker', now());
  // A start check failing here does not stop the others: the configuration itself loaded.
  emit('config', configOutcome(config, checks), now() - started);

  const deps = (options.createDeps ?? createDeps)(config, env);
  const target = temporalTarget(options.temporal ?? {}, env, config.temporal.namespace);
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  let connection: Connection | undefined;
  const apiHost = new URL(config.github.apiUrl).host;
  const files = { octokit: deps.octokit, owner: config.repository.owner, repo: config.repository.name, apiHost };
  const blocked = new Set<CheckId>();
  const ctx: DoctorContext = {
    config,
    env,
    deps,
    temporalTarget: target,
    preflight: checks,
    now,
    passed: (id) => reports.some((r) => r.id === id && (r.status === 'pass' || r.status === 'warn')),
    temporal: once(async () => (connection = await connectClient(target, connectTimeoutMs))),
    github: once(() => readIdentity(deps.octokit, apiHost)),
    overlay: once(() => readOverlayAtMain(files, config.repository.mainBranch, config.overlay.path)),
  };
  try {
    for (const check of CHECKS) {
      const missing = check.needs.find((id) => blocked.has(id));
      if (missing) {
        blocked.add(check.id);
        emit(check.id, { status: 'skip', summary: `skipped: needs ${TITLES[missing]}, which did not pass` }, 0);
        continue;
      }
      const t0 = now();
      let result: Outcome;
      try {
        result = await withTimeout(check.run(ctx), CHECK_TIMEOUT_MS);
      } catch (err) {
        result = fail(
          `${check.title} check failed: ${problemOf(err)}`,
          'run doctor again; if it persists, report it with this output',
        );
      }
      if (result.status === 'fail') blocked.add(check.id);
      emit(check.id, result, now() - t0);
    }
  } finally {
    await connection?.close().catch(() => undefined);
  }
  return done();
}
