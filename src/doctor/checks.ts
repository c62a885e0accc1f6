import { registryHost } from '../activities/registry';
import type { CheckId, Outcome } from './check';
import { checkArgoApplication, checkArgoToken, checkPreviewTemplates } from './argocd';
import { checkCiWorkflow } from './ci-workflow';
import type { DoctorContext } from './context';
import { checkPushAccess } from './github-push';
import { checkGitHubToken, rateLimitOutcome } from './github-token';
import { checkOverlay, overlayTags } from './overlay';
import { checkRegistry } from './registry';
import { checkSearchAttributes, checkTemporal } from './temporal';

/** One check after the configuration: what it needs to have passed first, and how it reads the context. */
export interface Check {
  id: Exclude<CheckId, 'config'>;
  title: string;
  needs: CheckId[];
  run(ctx: DoctorContext): Promise<Outcome>;
}

export const TITLES: Record<CheckId, string> = {
  config: 'Configuration',
  temporal: 'Temporal',
  'search-attributes': 'Search attributes',
  'github-token': 'GitHub token',
  'github-rate-limit': 'GitHub rate limit',
  'github-push': 'GitHub push access',
  'ci-workflow': 'CI workflow',
  registry: 'Registry',
  'argocd-token': 'Argo CD token',
  'argocd-application': 'Argo CD application',
  'argocd-previews': 'Preview applications',
  overlay: 'Overlay',
};

/** The settings each check reports the start checks' problems for; the configuration check takes the rest. */
export const PREFLIGHT_SUBJECTS: Partial<Record<CheckId, string[]>> = {
  temporal: ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY'],
  'github-token': ['GITHUB_TOKEN', 'github.apiUrl'],
  'github-push': ['repository.cloneUrl'],
  registry: ['registry.endpoint', 'AZURE_TENANT_ID'],
  'argocd-token': ['ARGOCD_TOKEN', 'argocd.server'],
};

const apiHost = (ctx: DoctorContext) => new URL(ctx.config.github.apiUrl).host;
const github = (ctx: DoctorContext) => ({
  octokit: ctx.deps.octokit,
  owner: ctx.config.repository.owner,
  repo: ctx.config.repository.name,
  apiHost: apiHost(ctx),
});
const argo = (ctx: DoctorContext) => ({
  server: ctx.config.argocd.server,
  token: ctx.deps.argocdToken,
  fetch: ctx.deps.fetch ?? fetch,
});

const check = (id: Check['id'], needs: CheckId[], run: Check['run']): Check => ({ id, title: TITLES[id], needs, run });

/** In order: a check runs only when every check it needs passed (or warned). */
export const CHECKS: Check[] = [
  check('temporal', ['config'], (ctx) =>
    checkTemporal({
      target: ctx.temporalTarget,
      taskQueue: ctx.config.temporal.taskQueue,
      preflight: ctx.preflight,
      connect: ctx.temporal,
    }),
  ),
  check('search-attributes', ['temporal'], (ctx) =>
    checkSearchAttributes({
      namespace: ctx.temporalTarget.namespace,
      enabled: ctx.config.temporal.searchAttributes,
      connect: ctx.temporal,
    }),
  ),
  check('github-token', ['config'], (ctx) =>
    checkGitHubToken({
      token: ctx.env.GITHUB_TOKEN,
      apiUrl: ctx.config.github.apiUrl,
      preflight: ctx.preflight,
      identity: ctx.github,
    }),
  ),
  check('github-rate-limit', ['github-token'], async (ctx) => rateLimitOutcome((await ctx.github()).core, ctx.now())),
  check('github-push', ['github-token'], (ctx) =>
    checkPushAccess({
      ...github(ctx),
      cloneUrl: ctx.deps.repo.origin,
      token: ctx.env.GITHUB_TOKEN!.trim(),
      env: ctx.env,
      preflight: ctx.preflight,
      identity: ctx.github,
    }),
  ),
  check('ci-workflow', ['github-token'], (ctx) =>
    checkCiWorkflow({ ...github(ctx), workflow: ctx.config.ci.workflow }),
  ),
  check('registry', ['config'], async (ctx) =>
    checkRegistry({
      endpoint: ctx.config.registry.endpoint,
      images: ctx.config.images,
      credential: ctx.deps.credential,
      // The tag production runs, when the overlay can be read; the registry is checked either way.
      runningTags: ctx.passed('github-token')
        ? await ctx.overlay().then(
            (read) => overlayTags(read.text),
            () => undefined,
          )
        : undefined,
      preflight: ctx.preflight,
    }),
  ),
  check('argocd-token', ['config'], (ctx) => checkArgoToken({ ...argo(ctx), preflight: ctx.preflight })),
  check('argocd-application', ['argocd-token'], (ctx) =>
    checkArgoApplication({
      ...argo(ctx),
      application: ctx.config.argocd.application,
      overlayPath: ctx.config.overlay.path,
      mainBranch: ctx.config.repository.mainBranch,
    }),
  ),
  check('argocd-previews', ['config'], async (ctx) => checkPreviewTemplates(ctx.config)),
  check('overlay', ['github-token'], (ctx) =>
    checkOverlay({
      ...github(ctx),
      facts: {
        path: ctx.config.overlay.path,
        mainBranch: ctx.config.repository.mainBranch,
        images: ctx.config.images,
        registryHost: registryHost(ctx.config.registry.endpoint),
      },
      previewPath: ctx.config.preview?.overlayPath,
      overlay: ctx.overlay,
    }),
  ),
];
