import {
  decideClose,
  decidePreviewRequest,
  HEAD_REREAD_MS,
  previewSkip,
  type PreviewDecision,
  type PreviewRequestFacts,
  type PreviewStateFacts,
  type PullFacts,
} from '../../src/plan/preview-request';
import { A, AFTER_LATEST, B, BEFORE_LATEST, C, D, deployOf, LATEST_AT, O, P, previewState, pull, X } from './builders';

/** The deploy a decision supersedes: the preview's latest deploy of `commit`. */
const supersedes = (commit: string) => ({ commit, workflowId: deployOf(commit), at: LATEST_AT });

interface RequestCase {
  name: string;
  state: PreviewStateFacts;
  request: PreviewRequestFacts;
  /** GitHub's reads of #7 made so far for this request, oldest first. */
  reads: PullFacts[];
  expected: PreviewDecision;
}

describe('decidePreviewRequest: how a preview answers a push to its pull request', () => {
  const cases: RequestCase[] = [
    // The deployer's own overlay commits.
    {
      name: "an event naming the deployer's own overlay commit: ignored",
      state: previewState().latest(C).own(O, C).build(),
      request: { commit: O, before: C },
      reads: [],
      expected: {
        kind: 'ignore',
        commit: O,
        message: "eeeeeee is the deployer's own overlay commit for ccccccc: nothing to deploy",
      },
    },
    {
      name: 'an own overlay commit named in upper case: still recognised',
      state: previewState().latest(C).own(O, C).build(),
      request: { commit: O.toUpperCase(), before: C },
      reads: [],
      expected: {
        kind: 'ignore',
        commit: O,
        message: "eeeeeee is the deployer's own overlay commit for ccccccc: nothing to deploy",
      },
    },
    {
      name: 'asked for the head: GitHub is read first',
      state: previewState().latest(C).build(),
      request: {},
      reads: [],
      expected: { kind: 'read', delayMs: 0 },
    },
    {
      name: 'asked for the head, a newer one than latest: deployed, superseding latest',
      state: previewState().latest(C).build(),
      request: {},
      reads: [pull({ headSha: D })],
      expected: { kind: 'deploy', commit: D, supersedes: supersedes(C) },
    },
    {
      name: 'asked for the head while the head is our overlay commit: deploys the commit beneath',
      state: previewState().own(P, D).build(),
      request: {},
      reads: [pull({ headSha: P })],
      expected: { kind: 'deploy', commit: D },
    },
    {
      name: 'asked for the head while the head is our overlay commit of the deployed latest: nothing to do',
      state: previewState().latest(D).own(P, D).deployed(D).build(),
      request: {},
      reads: [pull({ headSha: P })],
      expected: { kind: 'noop', commit: D, message: 'the preview already runs ddddddd' },
    },
    {
      name: 'asked for the head of a closed pull request (head not latest): the preview closes',
      state: previewState().latest(C).build(),
      request: {},
      reads: [pull({ headSha: D, state: 'closed', merged: true })],
      expected: { kind: 'close', merged: true },
    },

    // Successor pushes: newer by construction, no GitHub read.
    {
      name: 'a push on top of latest (before = latest): deployed without reading GitHub, superseding latest',
      state: previewState().latest(C).deployed(C).build(),
      request: { commit: D, before: C },
      reads: [],
      expected: { kind: 'deploy', commit: D, supersedes: supersedes(C) },
    },
    {
      name: 'a push on top of our overlay commit of latest: deployed without reading GitHub, superseding latest',
      state: previewState().latest(C).own(O, C).deployed(C).build(),
      request: { commit: D, before: O },
      reads: [],
      expected: { kind: 'deploy', commit: D, supersedes: supersedes(C) },
    },
    {
      name: 'a push named in upper case: deployed as the lower-case commit',
      state: previewState().latest(C).build(),
      request: { commit: D.toUpperCase(), before: C },
      reads: [],
      expected: { kind: 'deploy', commit: D, supersedes: supersedes(C) },
    },
    {
      name: 'a force-push back to an older head on top of latest: deployed without reading, superseding latest',
      state: previewState().latest(C).deployed(B, BEFORE_LATEST).deployed(C).build(),
      request: { commit: B, before: C },
      reads: [],
      expected: { kind: 'deploy', commit: B, supersedes: supersedes(C) },
    },

    // Anything else is checked against GitHub's head.
    {
      name: 'the first push the preview sees: GitHub is read',
      state: previewState().build(),
      request: { commit: C, before: B },
      reads: [],
      expected: { kind: 'read', delayMs: 0 },
    },
    {
      name: 'the first push the preview sees, GitHub agrees it is the head: deployed, nothing superseded',
      state: previewState().build(),
      request: { commit: C, before: B },
      reads: [pull({ headSha: C })],
      expected: { kind: 'deploy', commit: C },
    },
    {
      name: 'a push not on top of latest: GitHub is read',
      state: previewState().latest(C).build(),
      request: { commit: D, before: A },
      reads: [],
      expected: { kind: 'read', delayMs: 0 },
    },
    {
      name: 'a push without before (a person naming a commit): GitHub is read',
      state: previewState().latest(C).build(),
      request: { commit: D },
      reads: [],
      expected: { kind: 'read', delayMs: 0 },
    },
    {
      name: 'a push not on top of latest, GitHub agrees it is the head: deployed, superseding latest',
      state: previewState().latest(C).build(),
      request: { commit: D, before: A },
      reads: [pull({ headSha: D })],
      expected: { kind: 'deploy', commit: D, supersedes: supersedes(C) },
    },
    {
      name: 'GitHub reports our overlay commit on the pushed commit as the head: it is the head',
      state: previewState().latest(C).own(P, D).build(),
      request: { commit: D, before: A },
      reads: [pull({ headSha: P })],
      expected: { kind: 'deploy', commit: D, supersedes: supersedes(C) },
    },
    {
      name: 'GitHub reports our overlay commit on another commit as the head: not the head, read again',
      state: previewState().latest(C).own(O, C).build(),
      request: { commit: D, before: A },
      reads: [pull({ headSha: O })],
      expected: { kind: 'read', delayMs: HEAD_REREAD_MS },
    },
    {
      name: "GitHub's head differs: read again after HEAD_REREAD_MS",
      state: previewState().latest(C).build(),
      request: { commit: D, before: A },
      reads: [pull({ headSha: X })],
      expected: { kind: 'read', delayMs: HEAD_REREAD_MS },
    },
    {
      name: "GitHub's head differs, the re-read agrees: deployed, superseding latest",
      state: previewState().latest(C).build(),
      request: { commit: D, before: A },
      reads: [pull({ headSha: X }), pull({ headSha: D })],
      expected: { kind: 'deploy', commit: D, supersedes: supersedes(C) },
    },
    {
      name: "GitHub's head still differs after the re-read: ignored, not the head",
      state: previewState().latest(C).build(),
      request: { commit: D, before: A },
      reads: [pull({ headSha: X }), pull({ headSha: X })],
      expected: {
        kind: 'ignore',
        commit: D,
        message: 'ddddddd is not the head of #7 (9999999 is): the newer push has its own preview deploy',
      },
    },
    {
      name: 'a force-push back to an older head (not latest, GitHub says it is the head): deployed, superseding latest',
      state: previewState().latest(C).deployed(B, BEFORE_LATEST).deployed(C).build(),
      request: { commit: B, before: A },
      reads: [pull({ headSha: B })],
      expected: { kind: 'deploy', commit: B, supersedes: supersedes(C) },
    },

    // The head the preview already has.
    {
      name: 'a redelivery of the head deployed since latest: nothing to do, GitHub not read',
      state: previewState().latest(C).deployed(C, AFTER_LATEST).build(),
      request: { commit: C, before: B },
      reads: [],
      expected: { kind: 'noop', commit: C, message: 'the preview already runs ccccccc' },
    },
    {
      name: 'a redelivery of the head deployed the moment latest was requested: nothing to do',
      state: previewState().latest(C).deployed(C, LATEST_AT).build(),
      request: { commit: C, before: B },
      reads: [],
      expected: { kind: 'noop', commit: C, message: 'the preview already runs ccccccc' },
    },
    {
      name: 'a redelivery of the head whose deploy still runs: started again by id (running: a no-op), nothing superseded',
      state: previewState().latest(C).build(),
      request: { commit: C, before: B },
      reads: [],
      expected: { kind: 'deploy', commit: C },
    },
    {
      name: 'the head asked for again after its deploy failed (not deployed since): it runs again',
      state: previewState().latest(C).deployed(C, BEFORE_LATEST).build(),
      request: { commit: C },
      reads: [pull({ headSha: C })],
      expected: { kind: 'deploy', commit: C },
    },
    {
      name: 'asked for the head, GitHub reports it closed with the latest head: the preview closes',
      state: previewState().latest(C).build(),
      request: {},
      reads: [pull({ headSha: C, state: 'closed', merged: true })],
      expected: { kind: 'close', merged: true },
    },
    {
      name: 'a successor push named with an upper-case before: still a successor, GitHub not read',
      state: previewState().latest(C).build(),
      request: { commit: D, before: C.toUpperCase() },
      reads: [],
      expected: { kind: 'deploy', commit: D, supersedes: supersedes(C) },
    },
    {
      name: 'a force-push that dropped our overlay commit (before = our overlay of latest): deployed again',
      state: previewState().latest(C).own(O, C).deployed(C).build(),
      request: { commit: C, before: O },
      reads: [],
      expected: { kind: 'deploy', commit: C },
    },

    // Closed pull requests.
    {
      name: 'a late event of a merged pull request: the preview closes, merged',
      state: previewState().latest(C).build(),
      request: { commit: D, before: A },
      reads: [pull({ headSha: D, state: 'closed', merged: true })],
      expected: { kind: 'close', merged: true },
    },
    {
      name: 'a late event of a pull request closed unmerged: the preview closes, not merged',
      state: previewState().latest(C).build(),
      request: { commit: D, before: A },
      reads: [pull({ headSha: D, state: 'closed', merged: false })],
      expected: { kind: 'close', merged: false },
    },
    {
      name: 'a closed pull request with another head: re-read first',
      state: previewState().latest(C).build(),
      request: { commit: D, before: A },
      reads: [pull({ headSha: X, state: 'closed' })],
      expected: { kind: 'read', delayMs: HEAD_REREAD_MS },
    },
    {
      name: 'a closed pull request with another head after the re-read: the preview closes',
      state: previewState().latest(C).build(),
      request: { commit: D, before: A },
      reads: [pull({ headSha: X, state: 'closed' }), pull({ headSha: X, state: 'closed', merged: true })],
      expected: { kind: 'close', merged: true },
    },

    // Our own overlay push may be on its way back.
    {
      name: 'committing, an event whose before is the committing commit: wait for the commit step',
      state: previewState().latest(C).committing(C).build(),
      request: { commit: O, before: C },
      reads: [],
      expected: { kind: 'wait-for-commit' },
    },
    {
      name: 'committing, a request without before (the head): wait for the commit step',
      state: previewState().latest(C).committing(C).build(),
      request: {},
      reads: [],
      expected: { kind: 'wait-for-commit' },
    },
    {
      name: 'committing, with reads already made: no wait',
      state: previewState().latest(C).committing(C).build(),
      request: { commit: D, before: C },
      reads: [pull({ headSha: D })],
      expected: { kind: 'deploy', commit: D, supersedes: supersedes(C) },
    },
    {
      name: 'committing, an event on top of another commit: no wait, GitHub is read',
      state: previewState().latest(C).committing(C).build(),
      request: { commit: D, before: A },
      reads: [],
      expected: { kind: 'read', delayMs: 0 },
    },
  ];

  test.each(cases)('$name', ({ state, request, reads, expected }) => {
    expect(decidePreviewRequest(state, request, reads, 7)).toEqual(expected);
  });

  test('GitHub gets a few seconds to catch up with its own webhook', () => {
    expect(HEAD_REREAD_MS).toBe(5_000);
  });
});

describe('decideClose: a closed event, checked against GitHub', () => {
  test.each<[string, Pick<PullFacts, 'state' | 'merged'> | undefined, boolean, ReturnType<typeof decideClose>]>([
    ['the pull request is open again: no close', { state: 'open', merged: false }, false, { close: false }],
    ['open, even when the event said merged: no close', { state: 'open', merged: false }, true, { close: false }],
    ['closed unmerged: close, not merged', { state: 'closed', merged: false }, false, { close: true, merged: false }],
    ['merged: close, merged', { state: 'closed', merged: true }, false, { close: true, merged: true }],
    [
      "closed unmerged though the event said merged: GitHub's flag wins",
      { state: 'closed', merged: false },
      true,
      { close: true, merged: false },
    ],
    ["GitHub unreadable: close with the event's merged flag", undefined, true, { close: true, merged: true }],
    ['GitHub unreadable, event not merged: close, not merged', undefined, false, { close: true, merged: false }],
  ])('%s', (_, pullFacts, merged, expected) => {
    expect(decideClose(pullFacts, merged)).toEqual(expected);
  });
});

describe('previewSkip: which pull requests get no preview', () => {
  test.each<[string, PullFacts, { reason: string; note: RegExp } | undefined]>([
    [
      'a fork names its repository',
      pull({ fork: true, headRepository: 'mallory/app' }),
      { reason: 'fork', note: /^#7 comes from mallory\/app: previews run branches of this repository only/ },
    ],
    [
      'a fork whose repository was deleted (null)',
      pull({ fork: true, headRepository: null }),
      { reason: 'fork', note: /^#7 comes from a deleted fork: / },
    ],
    [
      'a fork without a head repository at all',
      pull({ fork: true, headRepository: undefined }),
      { reason: 'fork', note: /^#7 comes from a deleted fork: / },
    ],
    [
      'a closed fork: the fork is the reason',
      pull({ fork: true, headRepository: 'mallory/app', state: 'closed' }),
      { reason: 'fork', note: /mallory\/app/ },
    ],
    ['a closed pull request', pull({ state: 'closed' }), { reason: 'closed', note: /^#7 is closed: no preview$/ }],
    [
      'a pull request whose head is the main branch',
      pull({ headIsMain: true, headRef: 'main' }),
      { reason: 'main-branch', note: /^#7 proposes main itself: the deployer never commits a preview onto the main/ },
    ],
    ['a normal pull request gets a preview', pull(), undefined],
  ])('%s', (_, pullFacts, expected) => {
    const skip = previewSkip(pullFacts, 7);
    if (expected === undefined) expect(skip).toBeUndefined();
    else expect(skip).toEqual({ reason: expected.reason, note: expect.stringMatching(expected.note) });
  });
});
