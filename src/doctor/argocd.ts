import { posix } from 'node:path';
import { requestFailure, responseFailure } from '../activities/failures';
import { REQUEST_TIMEOUT_MS } from '../activities/faults';
import type { PreflightProblem } from '../config/preflight';
import type { DeployConfig } from '../config/schema';
import { previewName } from '../plan/preview';
import { fail, pass, warn, type Outcome } from './check';
import { fixFor, problemOf, problemsFor, warningsFor } from './problems';

export interface ArgoInput {
  server: string;
  token?: string;
  fetch: typeof fetch;
}

/** One GET of Argo CD's API with the worker's token; a failure is the fault table's verdict (what a deploy would say). */
async function getJson<T>(
  { server, token, fetch: fetchImpl }: ArgoInput,
  path: string,
  context: { subject: string; notFound: string },
): Promise<T> {
  const base = server.replace(/\/+$/, '');
  const host = new URL(base).host;
  const response = await fetchImpl(`${base}${path}`, {
    headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  }).catch((err: unknown) => {
    throw requestFailure('Argo CD', host, err, context);
  });
  if (!response.ok) throw await responseFailure('Argo CD', host, response, context);
  return (await response.json().catch((err: unknown) => {
    throw requestFailure('Argo CD', host, err, context);
  })) as T;
}

const NEW_TOKEN = 'argocd account generate-token --account <account>, then set ARGOCD_TOKEN to it';

/**
 * The token accepted: Argo CD's session/userinfo answers every caller and says whether the token
 * logged it in (an invalid token is simply not logged in).
 */
export async function checkArgoToken(input: ArgoInput & { preflight: PreflightProblem[] }): Promise<Outcome> {
  const subjects = ['ARGOCD_TOKEN', 'argocd.server'];
  const refused = problemsFor(input.preflight, subjects);
  if (refused) return refused;
  const host = new URL(input.server).host;
  let info: { loggedIn?: boolean; username?: string };
  try {
    info = await getJson(input, '/api/v1/session/userinfo', {
      subject: 'the session (GET /api/v1/session/userinfo)',
      notFound: `no Argo CD API at ${input.server} (/api/v1/session/userinfo answered 404)`,
    });
  } catch (err) {
    const server = "set argocd.server to the Argo CD server's URL, the one the UI and `argocd login` use";
    return fail(problemOf(err), fixFor(err, 'argocd.server', { Unauthorized: NEW_TOKEN, NotFound: server }, server));
  }
  if (info.loggedIn !== true)
    return fail(
      `Argo CD at ${host} did not accept ARGOCD_TOKEN: it is wrong, expired, revoked or from another Argo CD`,
      NEW_TOKEN,
    );
  const summary = `ARGOCD_TOKEN accepted by ${host}${info.username ? ` (account ${info.username})` : ''}`;
  const [later] = warningsFor(input.preflight, subjects);
  return later ? warn(`${summary}; but ${later.problem}`, later.fix) : pass(summary);
}

/** The slice of v1alpha1.Application read here. */
export interface ArgoApplication {
  spec?: {
    project?: string;
    source?: { path?: string; targetRevision?: string };
    sources?: Array<{ path?: string; targetRevision?: string }>;
  };
  status?: { sync?: { status?: string; revision?: string }; health?: { status?: string } };
}

const normal = (path: string) => posix.normalize(path.replace(/^\.\//, '')).replace(/\/+$/, '') || '.';

/** The application as the deployer needs it: it renders the overlay's directory from main. Pure. */
export function applicationOutcome(
  app: ArgoApplication,
  { application, overlayPath, mainBranch }: { application: string; overlayPath: string; mainBranch: string },
): Outcome {
  const { sync, health } = app.status ?? {};
  const revision = sync?.revision ? ` at ${sync.revision.slice(0, 7)}` : '';
  const project = app.spec?.project ? ` (project ${app.spec.project})` : '';
  const summary = `${application}${project}: ${sync?.status ?? 'Unknown'}${revision}, ${health?.status ?? 'Unknown'}`;
  const sources = app.spec?.sources ?? (app.spec?.source ? [app.spec.source] : []);
  const overlayDir = normal(posix.dirname(overlayPath));
  const source = sources.find((s) => s.path !== undefined && normal(s.path) === overlayDir);
  if (!source)
    return warn(
      `${summary}; but it renders ${sources.map((s) => s.path ?? '(no path)').join(', ') || 'no path'}, not ${overlayDir}`,
      `the deployer commits to ${overlayPath}: point the application's source path at ${overlayDir}, or overlay.path at the file it renders`,
    );
  const tracked = source.targetRevision ?? 'HEAD';
  if (![mainBranch, `refs/heads/${mainBranch}`, 'HEAD'].includes(tracked))
    return warn(
      `${summary}; but it tracks ${tracked}, not ${mainBranch}`,
      `the deployer commits to ${mainBranch}: set the application's targetRevision to ${mainBranch}`,
    );
  // Not a setting to fix, but what a person diagnosing a deploy wants to know first.
  if (health?.status === 'Degraded' || health?.status === 'Missing')
    return warn(
      `${summary}: production is ${health.status} now`,
      `look at it in Argo CD (argocd app get ${application}); a deploy still commits, then waits up to argocd.syncTimeout for Healthy`,
    );
  return pass(summary);
}

/** The production application readable with the token, rendering the overlay the deployer commits to. */
export async function checkArgoApplication(
  input: ArgoInput & { application: string; overlayPath: string; mainBranch: string },
): Promise<Outcome> {
  const { application } = input;
  try {
    // The subject and the 404's words as the confirm-sync step has them (src/activities/argocd.ts).
    const app = await getJson<ArgoApplication>(input, `/api/v1/applications/${encodeURIComponent(application)}`, {
      subject: `application "${application}"`,
      notFound: `Argo CD at ${new URL(input.server).host}: no application "${application}"; check argocd.application`,
    });
    return applicationOutcome(app, input);
  } catch (err) {
    const access = `check argocd.application against \`argocd app list\`, and give the token's account get on applications in its project (RBAC: p, role:<role>, applications, get, <project>/*, allow)`;
    return fail(problemOf(err), fixFor(err, 'argocd.server', { Unauthorized: NEW_TOKEN }, access));
  }
}

/** Argo CD's default resource tracking puts the application's name in a label value, which allows 63 characters. */
const LABEL_MAX = 63;
/** The largest pull request number the names are tried with. */
const LARGE_PR = 99_999;

/** The preview templates filled in: names Argo CD and git accept, none of them production's. Pure. */
export function checkPreviewTemplates(config: Pick<DeployConfig, 'preview' | 'argocd'>): Outcome {
  const { preview, argocd } = config;
  if (!preview) return pass('not configured: pull_request events are ignored');
  const template = preview.application;
  const pattern = new RegExp(`^${template.split('{number}').map(escape).join('\\d+')}$`);
  if (pattern.test(argocd.application))
    return fail(
      `preview.application ${template} matches the production application ${argocd.application}: a pull request's preview would deploy over production`,
      'give previews a name production cannot have, e.g. <app>-pr-{number}',
    );
  const largest = previewName(template, LARGE_PR);
  const details = preview.branch ? [`branch: ${preview.branch} → ${previewName(preview.branch, 7)}`] : [];
  const summary = `${template}: pull request 7 → ${previewName(template, 7)}`;
  if (largest.length > LABEL_MAX)
    return warn(
      `${summary}; but #${LARGE_PR}'s is ${largest.length} characters, more than a label value's ${LABEL_MAX}`,
      "shorten preview.application, or use Argo CD's annotation tracking (application.resourceTrackingMethod: annotation)",
      details,
    );
  return pass(summary, details);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
