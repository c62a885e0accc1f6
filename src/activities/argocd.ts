import { z } from 'zod';
import type { ArgoObservation } from '../plan/argocd';
import { requestFailure, responseFailure } from './failures';
import { REQUEST_TIMEOUT_MS } from './faults';
import type { RepoCache } from './git';
import { branchName, checkInput, fullSha } from './input';
import { short, stepLog } from './log';

const observeInput = z.object({
  revision: fullSha,
  refresh: z.boolean().default(false),
  /** Default: argocd.application (production). */
  application: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/)
    .optional(),
  /** The branch the application tracks, fetched to compare revisions (default: main). */
  branch: branchName.optional(),
  /** A preview's application appears when the ApplicationSet next polls GitHub: until then, wait. */
  missingIsWaiting: z.boolean().default(false),
});

/** The slice of Argo CD's v1alpha1.Application JSON that is read. */
interface Application {
  status?: {
    sync?: { status?: string; revision?: string; revisions?: string[] };
    health?: { status?: string; message?: string };
    operationState?: { phase?: string; message?: string; finishedAt?: string };
    reconciledAt?: string;
  };
}

export interface ArgoDeps {
  /** To tell whether the revision Argo CD reports contains the one asked for. */
  repo: RepoCache;
  /** Argo CD's URL. */
  server: string;
  /** Production's application, read when the input names none. */
  application: string;
  /** ARGOCD_TOKEN */
  token?: string;
  fetch?: typeof fetch;
}

/** Step `confirm-sync`'s probe: one read of the Argo CD application; the workflow decides and waits. */
export function argoSteps({ repo, server, application: production, token, fetch: fetchImpl = fetch }: ArgoDeps) {
  const base = server.replace(/\/+$/, '');
  const host = new URL(base).host;

  async function observeArgoApp(raw: z.input<typeof observeInput>): Promise<ArgoObservation> {
    const {
      revision,
      refresh,
      application = production,
      branch,
      missingIsWaiting,
    } = checkInput(observeInput, raw, 'confirm-sync');
    const app = encodeURIComponent(application);
    // refresh=normal makes Argo CD look at git now instead of at its next poll (3 min by default).
    const url = `${base}/api/v1/applications/${app}${refresh ? '?refresh=normal' : ''}`;
    const context = {
      subject: `application "${application}"`,
      notFound: `Argo CD at ${host}: no application "${application}"; check argocd.application (preview.application for previews)`,
    };
    const failed = (err: unknown): never => {
      throw requestFailure('Argo CD', host, err, context);
    };
    // The deadline covers the body too: a server that sends headers and then stalls is caught as well.
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const response = await fetchImpl(url, {
      headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal,
    }).catch(failed);
    // Argo CD answers 403 for an application it does not know unless the caller names the project.
    if (missingIsWaiting && (response.status === 404 || response.status === 403)) {
      await response.body?.cancel();
      stepLog.info(`Argo CD ${application}: not there yet, or not readable with this token (HTTP ${response.status})`, {
        application,
        revision,
        status: response.status,
      });
      return {
        syncStatus: 'Missing',
        syncRevision: null,
        revisionContainsTarget: false,
        healthStatus: 'Missing',
        healthMessage: `no application ${application} yet, or this token may not read it (HTTP ${response.status})`,
      };
    }
    if (!response.ok) throw await responseFailure('Argo CD', host, response, context);
    const { status = {} } = (await response.json().catch(failed)) as Application;
    const syncRevision = status.sync?.revision ?? status.sync?.revisions?.[0] ?? null;
    const revisionContainsTarget =
      syncRevision !== null &&
      (syncRevision === revision ||
        (await repo.exclusive(async (git) => {
          // Argo CD may already be at a later commit of its branch, which contains ours.
          if (!(await repo.hasCommit(git, syncRevision)))
            await (branch ? repo.fetchBranch(git, branch).catch(() => undefined) : repo.fetchMain(git));
          return (await repo.hasCommit(git, syncRevision)) && repo.isAncestor(git, revision, syncRevision);
        })));
    const observed: ArgoObservation = {
      syncStatus: status.sync?.status ?? 'Unknown',
      syncRevision,
      revisionContainsTarget,
      healthStatus: status.health?.status ?? 'Unknown',
      healthMessage: status.health?.message,
      operationPhase: status.operationState?.phase,
      operationMessage: status.operationState?.message,
      operationFinishedAt: status.operationState?.finishedAt,
      reconciledAt: status.reconciledAt,
    };
    const operation = observed.operationPhase ? `, last operation ${observed.operationPhase}` : '';
    const ours =
      syncRevision === revision
        ? 'ours'
        : revisionContainsTarget
          ? `contains ${short(revision)}`
          : `waiting for ${short(revision)}`;
    stepLog.info(
      `Argo CD ${application}: ${observed.syncStatus} at ${short(syncRevision)} (${ours}), ${observed.healthStatus}${operation}`,
      { application, revision, ...observed },
    );
    return observed;
  }

  return { observeArgoApp };
}
