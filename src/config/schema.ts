import ms from 'ms';
import picomatch from 'picomatch';
import { z } from 'zod';
import { BRANCH_NAME, previewName } from '../plan/preview';
import { DEFAULT_NOTIFY_OUTCOMES, NOTIFY_OUTCOMES } from '../plan/report';

// A bare number: ms() would read `60` as 60 ms, which is never what `timeout: 60` meant.
const UNITLESS = /^\s*[-+]?(\d+\.?\d*|\.\d+)\s*$/;

/**
 * A duration with its unit (`500ms`, `15s`, `2m`, `1h`), stored in milliseconds. Positive, unless
 * `allowZero` (a window that may be closed).
 */
function duration({ allowZero = false } = {}) {
  const example = '"15s", "2m" or "1h"';
  return z.unknown().transform((value, ctx): number => {
    const refuse = (message: string) => (ctx.addIssue({ code: 'custom', message }), z.NEVER);
    if (value === undefined || value === null || value === '') return refuse('required');
    if (typeof value === 'number' || (typeof value === 'string' && UNITLESS.test(value))) {
      const n = String(value).trim();
      return refuse(`${n} has no unit: add a unit, e.g. ${n}m or ${n}s`);
    }
    if (typeof value !== 'string') return refuse(`expected a duration like ${example}`);
    let parsed: number | undefined;
    try {
      parsed = ms(value as ms.StringValue);
    } catch {
      parsed = undefined; // ms throws on strings it cannot read at all
    }
    if (typeof parsed !== 'number' || !Number.isFinite(parsed))
      return refuse(`expected a duration like ${example}, got ${JSON.stringify(value)}`);
    if (parsed < 0 || (parsed === 0 && !allowZero))
      return refuse(`expected a positive duration like ${example}, got ${JSON.stringify(value)}`);
    return parsed;
  });
}

// picomatch reads an unbalanced bracket, brace or paren as a literal and matches nothing the
// author meant; strictBrackets makes it say so. Same options as the classifier (src/plan/classify.ts).
const COUNTERPART: Record<string, string> = { '[': ']', ']': '[', '{': '}', '}': '{', '(': ')', ')': '(' };
const glob = z
  .string()
  .min(1)
  .superRefine((pattern, ctx) => {
    if (!pattern) return; // min(1) says so
    try {
      picomatch.makeRe(pattern, { dot: true, strictBrackets: true });
    } catch (err) {
      // picomatch names the missing character ('Missing closing: "]"'); the author needs the one at fault.
      const missing = /^Missing (opening|closing): "(.)"/.exec((err as Error).message);
      const culprit = missing && COUNTERPART[missing[2]!];
      const reason = culprit
        ? `"${culprit}" is never ${missing[1] === 'closing' ? 'closed' : 'opened'} (write \\${culprit} to match the character itself)`
        : (err as Error).message;
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(pattern)} is not a valid glob: ${reason}` });
    }
  });
const globs = z.array(glob).min(1);
/** A URL field's own message for a bad value; a missing one falls through to "required". */
const urlError = (message: string) => (issue: { input?: unknown }) =>
  issue.input === undefined || issue.input === null ? undefined : message;
const httpUrl = z.url({ protocol: /^https?$/, error: urlError('expected an http:// or https:// URL') });

/**
 * Where the worker clones from and pushes to. The token travels as an HTTP header (src/activities/git.ts),
 * so an https URL must not carry it; ssh (with the worker's SSH agent) and file:// take no token.
 * The messages never quote the URL's user part: it may be the secret.
 */
function checkCloneUrl(url: string, ctx: z.RefinementCtx): void {
  if (!url) return; // min(1) says so
  const refuse = (message: string) => ctx.addIssue({ code: 'custom', message });
  const noCredentials = 'put the token in GITHUB_TOKEN; the URL must not carry credentials';
  const supported =
    'expected an https:// URL (or file:// for a local repository, ssh:// or git@host:path with an SSH agent)';
  // git's scp-like syntax: no scheme, a colon before the first slash (git@github.com:owner/repo.git).
  if (!url.includes('://') && /^[^/]+:/.test(url)) {
    if (/^[^/@]*:[^/]*@/.test(url)) refuse(noCredentials); // user:password@host:path
    return;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Nothing of the value is quoted: a malformed URL may still hold a secret.
    return refuse(/^[/.~]/.test(url) ? 'a local path: write it as a file:// URL' : supported);
  }
  // ssh takes a user name (git@) but no password; https and file take neither.
  const credentials =
    parsed.protocol === 'ssh:' ? parsed.password !== '' : parsed.username !== '' || parsed.password !== '';
  if (credentials)
    refuse(
      parsed.protocol === 'ssh:'
        ? noCredentials
        : `${noCredentials} (use ${parsed.protocol}//${parsed.host}${parsed.pathname})`,
    );
  if (!['https:', 'file:', 'ssh:'].includes(parsed.protocol)) refuse(`${supported}, not ${parsed.protocol}//`);
}

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
      cloneUrl: z.string().min(1).superRefine(checkCloneUrl).optional(),
    }),
    github: z
      .strictObject({ apiUrl: httpUrl.default('https://api.github.com') })
      .default({ apiUrl: 'https://api.github.com' }),
    ci: z
      .strictObject({
        /** The workflow file name (`ci.yml`) or its display name (`CI`). */
        workflow: z.string().min(1),
        timeout: duration().default(60 * 60_000),
        pollInitial: duration().default(15_000),
        pollMax: duration().default(120_000),
        /** How long a deploy whose CI run failed waits for a successful re-run ("Re-run failed jobs") before failing; 0: fail at once. */
        rerunWindow: duration({ allowZero: true }).default(0),
      })
      .refine((ci) => ci.pollMax >= ci.pollInitial, { path: ['pollMax'], message: 'must be at least ci.pollInitial' }),
    registry: z.strictObject({
      /** https://<name>.azurecr.io; the OCI distribution API is used, so any registry works. */
      endpoint: z.url({
        protocol: /^https$/,
        error: urlError('expected an https:// URL (the registry client refuses plain http)'),
      }),
    }),
    images: z
      .array(
        z.strictObject({
          /** `images[].name` in the kustomization. */
          name: z.string().min(1),
          /** Repository inside the registry. */
          repository: z
            .string()
            .regex(/^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/, 'expected a registry repository like "team/api"'),
        }),
      )
      .min(1, 'list at least one image')
      .superRefine((images, ctx) => {
        const seen = new Set<string>();
        images.forEach((image, index) => {
          if (seen.has(image.name))
            ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate image "${image.name}"` });
          seen.add(image.name);
        });
      }),
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
      syncTimeout: duration().default(15 * 60_000),
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
          .refine(
            (template) => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(previewName(template, 1)),
            'must be a lower-case DNS-style name once {number} is filled in',
          ),
        /** How long Argo CD may take to sync and report a preview healthy (default: argocd.syncTimeout). */
        syncTimeout: duration().optional(),
        /**
         * The deployer's own branch per PR, e.g. `gitops-deployer/preview-{number}`: the previewed commit plus the
         * overlay commit are force-pushed there and the PR branch is never written. Absent: commit on the PR branch.
         */
        branch: z
          .string()
          .regex(/\{number\}/, 'must contain {number}, e.g. "gitops-deployer/preview-{number}"')
          .refine(
            (template) => BRANCH_NAME.test(previewName(template, 1)),
            'must be a branch name once {number} is filled in',
          )
          .optional(),
        /** How many of the PR's commits (newest first) are searched for images on a push that changed no code. */
        searchDepth: z.number().int().min(1).max(250).default(30),
        /** A GitHub Deployment per push, in environment `pr-<number>` (transient), set inactive when the PR closes. */
        githubDeployments: z.boolean().default(false),
        /** The preview's address, e.g. `https://pr-{number}.preview.example.com`: environment_url and the comment's link. */
        url: z
          .string()
          .regex(/\{number\}/, 'must contain {number}, e.g. "https://pr-{number}.preview.example.com"')
          .refine((template) => {
            try {
              return /^https?:$/.test(new URL(previewName(template, 1)).protocol);
            } catch {
              return false;
            }
          }, 'must be an http:// or https:// URL once {number} is filled in')
          .optional(),
        /** One comment on the pull request, edited in place on every push: tag, state, links. */
        comment: z.boolean().default(false),
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
        /**
         * How long a deploy whose checks passed waits for its environment's verdict before handing itself
         * over again: an environment that was terminated or reset lost its queue and learns of the deploy anew.
         */
        reannounceAfter: duration().default(5 * 60_000),
        /** A GitHub Deployment per deploy and rollback, in the GitHub environment of this name. */
        githubDeployments: z.boolean().default(false),
        /** The environment's address: a successful Deployment's environment_url. */
        url: httpUrl.optional(),
      })
      .default({
        name: 'production',
        autoRollback: false,
        continueAsNewAfter: 100,
        reannounceAfter: 5 * 60_000,
        githubDeployments: false,
      }),
    git: z
      .strictObject({
        cacheDir: z.string().min(1).default('.cache/repos'),
        authorName: z.string().min(1).default('gitops-deployer'),
        authorEmail: z.string().min(1).default('gitops-deployer@users.noreply.github.com'),
      })
      .default({
        cacheDir: '.cache/repos',
        authorName: 'gitops-deployer',
        authorEmail: 'gitops-deployer@users.noreply.github.com',
      }),
    temporal: z
      .strictObject({
        namespace: z.string().min(1).default('default'),
        taskQueue: z.string().min(1).default('gitops-deployer'),
        /** Upsert the Deploy* search attributes (they must exist in the namespace; the worker adds them if it may). */
        searchAttributes: z.boolean().default(true),
        /** The Temporal Web UI's address, e.g. `https://temporal.example.com`: the links on GitHub and in chat. */
        uiUrl: httpUrl.optional(),
      })
      .default({ namespace: 'default', taskQueue: 'gitops-deployer', searchAttributes: true }),
    /**
     * Outgoing webhooks. Each sink's URL is a secret: it comes from the worker's environment,
     * NOTIFY_<NAME>_URL (`deploys-slack` → NOTIFY_DEPLOYS_SLACK_URL), never from this file.
     */
    notifications: z
      .array(
        z
          .object({
            name: z
              .string()
              .regex(
                /^[a-z0-9]+(-[a-z0-9]+)*$/,
                'expected a lower-case name like "deploys-slack" (its URL: NOTIFY_DEPLOYS_SLACK_URL)',
              ),
            /** `slack`: a Slack incoming-webhook body (text + blocks); `cloudevents`: CloudEvents 1.0, structured mode. */
            format: z.enum(['slack', 'cloudevents']),
            /** Which targets' outcomes it gets. */
            environments: z
              .array(z.enum(['production', 'preview']))
              .min(1)
              .default(['production', 'preview']),
            on: z.array(z.enum(NOTIFY_OUTCOMES)).min(1).default(DEFAULT_NOTIFY_OUTCOMES),
            /** Refused: named only so the error can say where a URL goes (and never repeat it). */
            url: z.unknown().optional(),
          })
          .strict()
          .superRefine((sink, ctx) => {
            if (sink.url !== undefined)
              ctx.addIssue({
                code: 'custom',
                path: ['url'],
                message: `a sink's URL is a secret: set it in ${notifyUrlVariable(sink.name)} instead of this file`,
              });
          })
          .transform(({ url: _, ...sink }) => sink),
      )
      .default([])
      .superRefine((sinks, ctx) => {
        const seen = new Set<string>();
        sinks.forEach((sink, index) => {
          if (seen.has(sink.name))
            ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate sink "${sink.name}"` });
          seen.add(sink.name);
        });
      }),
  })
  .strict()
  // Checks within one section sit on that section, so they are reported beside other sections' problems.
  .superRefine((config, ctx) => {
    if (config.preview?.branch && previewName(config.preview.branch, 1) === config.repository.mainBranch) {
      ctx.addIssue({ code: 'custom', path: ['preview', 'branch'], message: 'must not be the main branch' });
    }
    if (config.preview && config.preview.overlayPath === config.overlay.path) {
      ctx.addIssue({
        code: 'custom',
        path: ['preview', 'overlayPath'],
        message: 'must differ from overlay.path: previews never write the production overlay',
      });
    }
  });

/** The environment variable that holds a notification sink's URL. */
export function notifyUrlVariable(name: string): string {
  return `NOTIFY_${name.toUpperCase().replace(/-/g, '_')}_URL`;
}

export type DeployConfig = z.output<typeof configSchema>;
export type NotificationSink = DeployConfig['notifications'][number];
export type ImageConfig = DeployConfig['images'][number];
