import type { NotificationEvent } from '../../src/plan/notification';

export const NOTIFIED_COMMIT = '0b0b0b0c1c1c1c1d2d2d2d2e3e3e3e3f4f4f4f4f';

/** A production deploy's `succeeded` notification, as the reporter builds it; `over` changes that. */
export function notificationEvent(over: Partial<NotificationEvent> = {}): NotificationEvent {
  return {
    outcome: 'succeeded',
    repository: 'acme/shop',
    environment: 'production',
    targetLabel: 'production',
    kind: 'deploy',
    commit: NOTIFIED_COMMIT,
    tag: 'sha-0b0b0b0',
    message: 'sha-0b0b0b0 is synced and healthy',
    at: '2026-05-01T12:00:00.000Z',
    links: { commit: `https://github.com/acme/shop/commit/${NOTIFIED_COMMIT}` },
    ...over,
  };
}
