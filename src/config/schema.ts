import ms from 'ms';
import { z } from 'zod';
import { BRANCH_NAME, previewName } from '../plan/preview';

/** A duration such as `15s`, `2m` or `1h`, stored in milliseconds. */
const duration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const parsed = typeof value === 'number' ? value : ms(value as ms.StringValue);
    if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed <= 0) {
      ctx.addIssue({ code: 'custom', message: `expected a positive duration like "15s", "2m" or "1h", got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return parsed;
  });

const globs = z.array(z.string().min(1)).min(1);
const httpUrl = z.url({ protocol: /^https?$/ });

/** The spec's "When Images Are Built" table, as globs. */
export const DEFAULT_CHANGE_RULES = {
  code: ['services/**', 'apps/web/**', 'docker/**', '**/Dockerfile*'],
  k8s: ['k8s/**'],
  infra: ['infra/**'],
  ignored: ['docs/**', '**/*.md', '.github/**'],
};

const kubeName = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'expected a lower-case DNS-style name');

export const configSchema = z
  .object({
    repository: z.strictObject({
      owner: z.string().min(1),
      name: z.string().min(1),
      mainBranch: z.string().min(1).default('main'),
      /** Defaults to https://github.com/<owner>/<name>.git. */
      cloneUrl: z.string().min(1).optional(),
    }),
    github: z.strictObject({ apiUrl: httpUrl.default('https://api.github.com') }).default({ apiUrl: 'https://api.github.com' }),
    ci: z.strictObject({
      /** The workflow file name (`ci.yml`) or its display name (`CI`). */
      workflow: z.string().min(1),
      timeout: duration.default(60 * 60_000),
      pollInitial: duration.default(15_000),
      pollMax: duration.default(120_000),
    }),
    registry: z.strictObject({
      /** https://<name>.azurecr.io; the OCI distribution API is used, so any registry works. */
      endpoint: z.url({ protocol: /^https$/, error: 'expected an https:// URL (the registry client refuses plain http)' }),
    }),
    images: z
      .array(
        z.strictObject({
          /** `images[].name` in the kustomization. */
          name: z.string().min(1),
          /** Repository inside the registry. */
          repository: z.string().regex(/^[a-z0-9]+(?:[._\/-][a-z0-9]+)*$/, 'expected a registry repository like "team/api"'),
        }),
      )
      .min(1, 'list at least one image'),
    changeRules: z
      .strictObject({
        code: globs.default(DEFAULT_CHANGE_RULES.code),
        k8s: globs.default(DEFAULT_CHANGE_RULES.k8s),
        infra: globs.default(DEFAULT_CHANGE_RULES.infra),
        ignored: globs.default(DEFAULT_CHANGE_RULES.ignored),
      })
      .default(DEFAULT_CHANGE_RULES),
    overlay: z
      .strictObject({ path: z.string().min(1).default('k8s/overlays/prod/kustomization.yaml') })
      .default({ path: 'k8s/overlays/prod/kustomization.yaml' }),
    argocd: z.strictObject({
      server: httpUrl,
      application: kubeName,
      syncTimeout: duration.default(15 * 60_000),
    }),
    /** Preview environments per pull request; without this section pull_request events are ignored. */
    preview: z
      .strictObject({
        /** The preview overlay, committed on the pull request's head branch. */
        overlayPath: z.string().min(1).default('k8s/overlays/preview/kustomization.yaml'),
        /** The Argo CD application of PR {number}, as the ApplicationSet's pull-request generator names it. */
        application: z
          .string()
          .regex(/\{number\}/, 'must contain {number}, e.g. "yt-summarizer-pr-{number}"')
          .refine((template) => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(previewName(template, 1)), 'must be a lower-case DNS-style name once {number} is filled in'),
        /** How long Argo CD may take to sync and report a preview healthy (default: argocd.syncTimeout). */
        syncTimeout: duration.optional(),
        /**
         * The deployer's own branch per PR, e.g. `gitops-deployer/preview-{number}`: the previewed commit plus the
         * overlay commit are force-pushed there and the PR branch is never written. Absent: commit on the PR branch.
         */
        branch: z
          .string()
          .regex(/\{number\}/, 'must contain {number}, e.g. "gitops-deployer/preview-{number}"')
          .refine((template) => BRANCH_NAME.test(previewName(template, 1)), 'must be a branch name once {number} is filled in')
          .optional(),
        /** How many of the PR's commits (newest first) are searched for images on a push that changed no code. */
        searchDepth: z.number().int().min(1).max(250).default(30),
      })
      .optional(),
    environment: z
      .strictObject({
        /** The environment workflow's name: env-<name>. */
        name: kubeName.default('production'),
        /** Roll back to the previous tag (and hold) when Argo CD reports a deploy Degraded. */
        autoRollback: z.boolean().default(false),
        /** Changes one run of the environment workflow handles before it continues as new. */
        continueAsNewAfter: z.number().int().min(1).default(100),
      })
      .default({ name: 'production', autoRollback: false, continueAsNewAfter: 100 }),
    git: z
      .strictObject({
        cacheDir: z.string().min(1).default('.cache/repos'),
        authorName: z.string().min(1).default('gitops-deployer'),
        authorEmail: z.string().min(1).default('gitops-deployer@users.noreply.github.com'),
      })
      .default({ cacheDir: '.cache/repos', authorName: 'gitops-deployer', authorEmail: 'gitops-deployer@users.noreply.github.com' }),
    temporal: z
      .strictObject({
        namespace: z.string().min(1).default('default'),
        taskQueue: z.string().min(1).default('gitops-deployer'),
        /** Upsert the Deploy* search attributes (they must exist in the namespace; the worker adds them if it may). */
        searchAttributes: z.boolean().default(true),
      })
      .default({ namespace: 'default', taskQueue: 'gitops-deployer', searchAttributes: true }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.images.forEach((image, index) => {
      if (seen.has(image.name)) ctx.addIssue({ code: 'custom', path: ['images', index, 'name'], message: `duplicate image "${image.name}"` });
      seen.add(image.name);
    });
    if (config.preview?.branch && previewName(config.preview.branch, 1) === config.repository.mainBranch) {
      ctx.addIssue({ code: 'custom', path: ['preview', 'branch'], message: 'must not be the main branch' });
    }
    if (config.preview && config.preview.overlayPath === config.overlay.path) {
      ctx.addIssue({ code: 'custom', path: ['preview', 'overlayPath'], message: 'must differ from overlay.path: previews never write the production overlay' });
    }
    if (config.ci.pollMax < config.ci.pollInitial) {
      ctx.addIssue({ code: 'custom', path: ['ci', 'pollMax'], message: 'must be at least ci.pollInitial' });
    }
  });

export type DeployConfig = z.output<typeof configSchema>;
export type ChangeRules = DeployConfig['changeRules'];
export type ImageConfig = DeployConfig['images'][number];
