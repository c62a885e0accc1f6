/** The parts of an Argo CD Application's status the deployer looks at. */
export interface ArgoObservation {
  syncStatus: string;
  syncRevision: string | null;
  /** Whether syncRevision is the target commit or a descendant of it. */
  revisionContainsTarget: boolean;
  healthStatus: string;
  healthMessage?: string;
  operationPhase?: string;
  operationMessage?: string;
  operationFinishedAt?: string;
  reconciledAt?: string;
}

export type ArgoVerdict =
  | { state: 'waiting'; message: string }
  | { state: 'healthy'; message: string }
  | { state: 'degraded'; message: string };

/**
 * Decides whether the target revision is live and healthy. Health is trusted only once Argo CD
 * reconciled after the last sync finished; before that it may still describe the old revision.
 */
export function evaluateArgo(o: ArgoObservation, target: string): ArgoVerdict {
  const at = o.syncRevision ? o.syncRevision.slice(0, 7) : 'no revision';
  if (o.syncStatus === 'Missing')
    return {
      state: 'waiting',
      message: `waiting for Argo CD to create the application (${o.healthMessage ?? 'not found'}), then to sync ${target.slice(0, 7)}`,
    };
  if (o.syncStatus === 'Synced' && !o.revisionContainsTarget) {
    return {
      state: 'waiting',
      message: `Synced at ${at} (a previous revision), waiting for ours (${target.slice(0, 7)})`,
    };
  }
  if (o.syncStatus !== 'Synced') {
    return { state: 'waiting', message: `${o.syncStatus} at ${at}, waiting for Argo CD to sync ${target.slice(0, 7)}` };
  }
  if (o.operationPhase === 'Failed' || o.operationPhase === 'Error') {
    return { state: 'degraded', message: `Argo CD sync ${o.operationPhase}: ${o.operationMessage ?? 'no message'}` };
  }
  if (o.operationFinishedAt && (!o.reconciledAt || Date.parse(o.reconciledAt) < Date.parse(o.operationFinishedAt))) {
    return { state: 'waiting', message: `synced ${at}; waiting for Argo CD to reconcile health after the sync` };
  }
  if (o.healthStatus === 'Healthy') return { state: 'healthy', message: `Synced at ${at} and Healthy` };
  if (o.healthStatus === 'Degraded') {
    return { state: 'degraded', message: `Argo CD reports Degraded at ${at}: ${o.healthMessage ?? 'no message'}` };
  }
  return {
    state: 'waiting',
    message: `synced ${at}; health is ${o.healthStatus}${o.healthMessage ? `: ${o.healthMessage}` : ''}`,
  };
}
