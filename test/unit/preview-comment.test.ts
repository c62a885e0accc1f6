import {
  commentOrder,
  isPreviewComment,
  previewCommentBody,
  type PreviewCommentFacts,
} from '../../src/plan/preview-comment';
import type { CommentState } from '../../src/plan/report';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const ORDER = '2026-01-02T03:04:05.000Z';
const base: PreviewCommentFacts = {
  pr: 12,
  order: ORDER,
  state: 'ready',
  commit: COMMIT,
  tag: 'pr-12-0123456',
  rule: 'ci',
  ruleReason: 'code changed: CI builds pr-12-0123456',
  url: 'https://pr-12.preview.example.com',
  ciRunUrl: 'https://github.com/acme/yt/actions/runs/10000000001',
  workflowUrl: 'https://temporal.example.com/namespaces/default/workflows/deploy-1/run-1/history',
  at: '2026-01-02T03:09:00.000Z',
  repositoryUrl: 'https://github.com/acme/yt',
};
const body = (patch: Partial<PreviewCommentFacts> = {}) => previewCommentBody({ ...base, ...patch });
/** The table's rows as [key, value]. */
const rows = (text: string) =>
  text
    .split('\n')
    .filter((l) => /^\| [A-Z]/.test(l))
    .map((l) => {
      const cells = l.split(/(?<!\\)\|/).slice(1, -1);
      return [cells[0]!.trim(), cells[1]!.trim()];
    });

describe('the preview comment body', () => {
  test('a ready preview: marker, headline, the URL, and every link', () => {
    expect(body()).toBe(
      [
        `<!-- gitops-deployer:preview order=${ORDER} -->`,
        '### ✅ Preview: ready',
        '',
        'The preview of #12 runs at [https://pr-12.preview.example.com](https://pr-12.preview.example.com).',
        '',
        '| | |',
        '|---|---|',
        "| Tag | `pr-12-0123456` — this commit's own CI build (code changed: CI builds pr-12-0123456) |",
        '| Preview | [https://pr-12.preview.example.com](https://pr-12.preview.example.com) |',
        `| Commit | [\`0123456\`](https://github.com/acme/yt/commit/${COMMIT}) |`,
        '| CI run | [the CI run](https://github.com/acme/yt/actions/runs/10000000001) |',
        '| Deploy | [in the Temporal UI](https://temporal.example.com/namespaces/default/workflows/deploy-1/run-1/history) |',
        '',
        '<sub>Updated 2026-01-02T03:09:00.000Z by gitops-deployer.</sub>',
      ].join('\n'),
    );
  });

  test.each<[CommentState, string]>([
    ['waiting-for-ci', '### ⏳ Preview: waiting for CI'],
    ['deploying', '### 🚧 Preview: deploying'],
    ['syncing', '### 🔄 Preview: syncing'],
    ['ready', '### ✅ Preview: ready'],
    ['failed', '### ❌ Preview: failed: CI failed: run 10000000001 concluded failure'],
    ['removed', '### 🗑️ Preview removed'],
  ])('%s: its headline', (state, headline) => {
    const text = body({ state, message: 'CI failed: run 10000000001 concluded failure' });
    expect(text.split('\n')[1]).toBe(headline);
  });

  test.each<CommentState>(['waiting-for-ci', 'deploying', 'syncing', 'failed', 'removed'])(
    '%s: no preview URL until it is ready',
    (state) => {
      const text = body({ state });
      expect(text).not.toContain(base.url);
      expect(rows(text).map(([k]) => k)).not.toContain('Preview');
    },
  );

  test('removed: says the preview is gone and keeps the last tag for the record', () => {
    const text = body({ state: 'removed' });
    expect(text).toContain('The pull request closed: the preview of #12 is gone.');
    expect(rows(text)[0]).toEqual(['Last tag', expect.stringContaining('`pr-12-0123456`')]);
  });

  test('only what is known: no tag, CI run or Temporal link yet', () => {
    const text = body({
      state: 'waiting-for-ci',
      tag: undefined,
      rule: undefined,
      ruleReason: undefined,
      ciRunUrl: undefined,
      workflowUrl: undefined,
    });
    expect(rows(text)).toEqual([['Commit', `[\`0123456\`](https://github.com/acme/yt/commit/${COMMIT})`]]);
  });

  test.each<[PreviewCommentFacts['rule'], string]>([
    ['running', 'the tag production runs'],
    ['pr-history', 'an earlier build of the same code in this pull request'],
    ['production', "production's tag (no code changed)"],
  ])('the rule %s, in words', (rule, words) => {
    expect(rows(body({ rule, ruleReason: undefined }))[0]![1]).toBe(`\`pr-12-0123456\` — ${words}`);
  });

  test('a failure reason is one escaped line, cut when long', () => {
    const message = 'overlay | push `refused`\n<script>alert(1)</script> *bold* [x](y)';
    const headline = body({ state: 'failed', message }).split('\n')[1]!;
    expect(headline).toBe(
      '### ❌ Preview: failed: overlay \\| push \\`refused\\` &lt;script&gt;alert(1)&lt;/script&gt; \\*bold\\* \\[x\\](y)',
    );
    const long = body({ state: 'failed', message: 'x'.repeat(1000) }).split('\n')[1]!;
    expect(long).toBe(`### ❌ Preview: failed: ${'x'.repeat(299)}…`);
  });

  test('interpolated text cannot break the table, a code span, or a link', () => {
    const text = body({
      tag: 'odd|tag',
      ruleReason: 'reason with | pipe and `tick`',
      ciRunUrl: 'https://ci.example.com/run (1)|x',
      workflowUrl: 'javascript:alert(1)',
    });
    const table = rows(text);
    // Each row still has exactly two cells.
    for (const line of text.split('\n').filter((l) => /^\| [A-Z]/.test(l)))
      expect(line.split(/(?<!\\)\|/)).toHaveLength(4);
    expect(table[0]![1]).toBe("`odd\\|tag` — this commit's own CI build (reason with \\| pipe and \\`tick\\`)");
    expect(Object.fromEntries(table)['CI run']).toBe('[the CI run](https://ci.example.com/run%20%281%29%7Cx)');
    // Only http(s) is linked.
    expect(Object.fromEntries(table)['Deploy']).toBe('in the Temporal UI');
  });

  test('a tag with a backtick is escaped text, not a code span', () => {
    expect(rows(body({ tag: 'a`b', rule: undefined }))[0]![1]).toBe('a\\`b');
  });
});

describe('the hidden marker', () => {
  test('carries the order key, read back by commentOrder', () => {
    const text = body();
    expect(isPreviewComment(text)).toBe(true);
    expect(commentOrder(text)).toBe(ORDER);
  });

  test('survives the CRLF line ends of an edit in the web UI', () => {
    expect(commentOrder(body().replace(/\n/g, '\r\n'))).toBe(ORDER);
  });

  test('an order key cannot end the HTML comment early', () => {
    const text = body({ order: '2026-01-02T03:04:05Z --> <b>x</b>' });
    expect(text.split('\n')[0]).toBe('<!-- gitops-deployer:preview order=2026-01-02T03:04:05Z--bxb -->');
    expect(commentOrder(text)).toBe('2026-01-02T03:04:05Z--bxb');
  });

  test.each<[string | null | undefined, boolean, string | undefined]>([
    ['<!-- gitops-deployer:preview order=2026-01-01T00:00:00Z -->\nhi', true, '2026-01-01T00:00:00Z'],
    // Marked, but its order unreadable (a hand edit): still ours, no order to compare.
    ['<!-- gitops-deployer:preview -->\nhi', true, undefined],
    // Someone quoting the comment in a reply is not the comment.
    ['> <!-- gitops-deployer:preview order=2026-01-01T00:00:00Z -->', false, undefined],
    ['LGTM', false, undefined],
    ['', false, undefined],
    [null, false, undefined],
    [undefined, false, undefined],
  ])('%j: preview comment %s, order %s', (text, marked, order) => {
    expect(isPreviewComment(text)).toBe(marked);
    expect(commentOrder(text)).toBe(order);
  });
});
