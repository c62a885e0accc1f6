import {
  cloudEvent,
  headline,
  slackEscape,
  slackLink,
  slackMessage,
  type NotificationEvent,
} from '../../src/plan/notification';
import { NOTIFY_OUTCOMES } from '../../src/plan/report';
import { NOTIFIED_COMMIT, notificationEvent } from '../support/notification-event';

const COMMIT = NOTIFIED_COMMIT;
const event = (over: Partial<NotificationEvent> = {}): NotificationEvent =>
  notificationEvent({
    links: {
      commit: `https://github.com/acme/shop/commit/${COMMIT}`,
      workflow: 'https://temporal.acme.io/namespaces/default/workflows/deploy-1/run-1/history',
      environment: 'https://shop.acme.io',
      ci: 'https://github.com/acme/shop/actions/runs/42',
    },
    ...over,
  });

/** Slack's block types for messages, and the fields each of ours may carry. */
const BLOCK_FIELDS: Record<string, string[]> = { section: ['type', 'text'], context: ['type', 'elements'] };

describe('the Slack incoming-webhook body', () => {
  test('text (the fallback) and blocks: a section and a context line of links, all mrkdwn', () => {
    const message = slackMessage(event());
    expect(message.text).toBe(':white_check_mark: acme/shop: Deployed sha-0b0b0b0 to production');
    expect(message.blocks.map((b) => b.type)).toEqual(['section', 'context']);
    for (const block of message.blocks) expect(Object.keys(block).sort()).toEqual(BLOCK_FIELDS[block.type]!.sort());
    const [section, context] = message.blocks;
    expect(section).toEqual({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: ':white_check_mark: *Deployed sha-0b0b0b0 to production*\nsha-0b0b0b0 is synced and healthy',
      },
    });
    expect(context).toEqual({
      type: 'context',
      elements: [
        `acme/shop@<https://github.com/acme/shop/commit/${COMMIT}|0b0b0b0>`,
        '<https://shop.acme.io|open production>',
        '<https://github.com/acme/shop/actions/runs/42|CI run>',
        '<https://temporal.acme.io/namespaces/default/workflows/deploy-1/run-1/history|Temporal>',
        '<!date^1777636800^{date_short_pretty} at {time}|2026-05-01T12:00:00.000Z>',
      ].map((text) => ({ type: 'mrkdwn', text })),
    });
    // Slack's limits: a section's text at most 3000 characters, a context at most 10 elements.
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    expect((context as { elements: unknown[] }).elements.length).toBeLessThanOrEqual(10);
    // A JSON document as the webhook takes it.
    expect(JSON.parse(JSON.stringify(message))).toEqual(message);
  });

  test.each<[string, Partial<NotificationEvent>, string]>([
    ['a failed deploy', { outcome: 'failed' }, ':x: *Deploy of sha-0b0b0b0 to production failed*'],
    ['a held deploy', { outcome: 'held' }, ':double_vertical_bar: *Deploy of sha-0b0b0b0 to production is held*'],
    [
      'a superseded preview push',
      { outcome: 'superseded', targetLabel: 'the preview of #12', environment: 'pr-12', pr: 12 },
      ':fast_forward: *Deploy of sha-0b0b0b0 to the preview of #12 was superseded*',
    ],
    [
      'a rollback',
      { outcome: 'rolled-back', kind: 'rollback', requestedBy: 'alice' },
      ':rewind: *Rolled back production to sha-0b0b0b0*',
    ],
    [
      'a failed rollback',
      { outcome: 'failed', kind: 'rollback' },
      ':x: *Rollback of production to sha-0b0b0b0 failed*',
    ],
    ['a commit without a tag', { outcome: 'failed', tag: undefined }, ':x: *Deploy of 0b0b0b0 to production failed*'],
  ])('%s', (_name, over, start) => {
    const section = slackMessage(event(over)).blocks[0] as { text: { text: string } };
    expect(section.text.text.startsWith(`${start}\n`)).toBe(true);
  });

  test('who asked is named on the context line', () => {
    const context = slackMessage(event({ outcome: 'rolled-back', kind: 'rollback', requestedBy: 'alice' })).blocks[1];
    expect(JSON.stringify(context)).toContain('requested by alice');
  });

  test('&, < and > in any text are escaped, so a message cannot ping @channel or forge a link', () => {
    const message = slackMessage(
      event({
        outcome: 'failed',
        message: 'CI failed: <!channel> build & test > 5 min, see <https://evil.example|docs>',
        requestedBy: 'bob <bob@acme.io>',
        repository: 'acme/a&b',
      }),
    );
    const section = (message.blocks[0] as { text: { text: string } }).text.text;
    expect(section).toContain(
      'CI failed: &lt;!channel&gt; build &amp; test &gt; 5 min, see &lt;https://evil.example|docs&gt;',
    );
    const all = JSON.stringify(message);
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<https://evil.example');
    expect(all).toContain('requested by bob &lt;bob@acme.io&gt;');
    expect(message.text).toBe(':x: acme/a&amp;b: Deploy of sha-0b0b0b0 to production failed');
  });

  test('links: only http(s), with & escaped and | or > encoded so the link ends where it should', () => {
    expect(slackEscape('a & <b> &amp;')).toBe('a &amp; &lt;b&gt; &amp;amp;');
    expect(slackLink('https://ci.acme.io/runs?id=1&attempt=2', 'CI & tests')).toBe(
      '<https://ci.acme.io/runs?id=1&amp;attempt=2|CI &amp; tests>',
    );
    expect(slackLink('https://x.acme.io/a|b>c', 'x')).toBe('<https://x.acme.io/a%7Cb%3Ec|x>');
    expect(slackLink('javascript:alert(1)', 'click')).toBe('click');
    expect(slackLink(undefined, 'a<b')).toBe('a&lt;b');
  });

  test('a long message is cut to fit a section (3000 characters)', () => {
    const section = slackMessage(event({ outcome: 'failed', message: 'x'.repeat(10_000) })).blocks[0] as {
      text: { text: string };
    };
    expect(section.text.text.length).toBeLessThanOrEqual(3_000);
    expect(section.text.text.endsWith('…')).toBe(true);
  });

  test('every outcome of either kind has a headline', () => {
    for (const outcome of NOTIFY_OUTCOMES)
      for (const kind of ['deploy', 'rollback'] as const)
        expect(headline(event({ outcome, kind }))).toMatch(/^(Deployed|Deploy of|Rollback of|Rolled back) /);
  });
});

describe('the CloudEvents 1.0 body (structured mode)', () => {
  const ID = 'deploy-acme-shop-0b0b0b0/succeeded';

  test('the required attributes, the optional ones used, and the event as data', () => {
    const e = event();
    const ce = cloudEvent(e, ID);
    expect(ce).toEqual({
      specversion: '1.0',
      id: ID,
      source: '/gitops-deployer/acme/shop/production',
      type: 'dev.gitops-deployer.deploy.succeeded',
      subject: COMMIT,
      time: '2026-05-01T12:00:00.000Z',
      datacontenttype: 'application/json',
      data: e,
    });
  });

  test('attribute types as the spec defines them', () => {
    const ce = cloudEvent(event({ outcome: 'rolled-back', kind: 'rollback' }), ID);
    // Required: non-empty strings; specversion exactly "1.0".
    for (const attribute of ['id', 'source', 'specversion', 'type'] as const) {
      expect(typeof ce[attribute]).toBe('string');
      expect(ce[attribute].length).toBeGreaterThan(0);
    }
    expect(ce.specversion).toBe('1.0');
    // source: a URI-reference (here an absolute path, valid relative to any base).
    expect(new URL(ce.source, 'https://base.invalid').pathname).toBe(ce.source);
    // type: reverse-DNS prefixed.
    expect(ce.type).toBe('dev.gitops-deployer.rollback.rolled-back');
    expect(ce.type).toMatch(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/);
    // time: RFC 3339.
    expect(ce.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
    expect(Number.isNaN(Date.parse(ce.time!))).toBe(false);
    // Attribute names: lower-case letters and digits only (extensions included).
    for (const name of Object.keys(ce)) expect(name).toMatch(/^[a-z0-9]{1,20}$/);
  });

  test('structured mode: one JSON document, data as a JSON value (not a string, not data_base64)', () => {
    const ce = JSON.parse(JSON.stringify(cloudEvent(event(), ID))) as Record<string, unknown>;
    expect(ce.datacontenttype).toBe('application/json');
    expect(typeof ce.data).toBe('object');
    expect(ce).not.toHaveProperty('data_base64');
    expect((ce.data as NotificationEvent).commit).toBe(COMMIT);
  });

  test('a preview: its environment in the source; segments are encoded; a time with an offset reads as UTC', () => {
    const ce = cloudEvent(
      event({ environment: 'pr-12', pr: 12, targetLabel: 'the preview of #12', at: '2026-05-01T14:00:00+02:00' }),
      ID,
    );
    expect(ce.source).toBe('/gitops-deployer/acme/shop/pr-12');
    expect(ce.time).toBe('2026-05-01T12:00:00.000Z');
    expect(cloudEvent(event({ environment: 'prod eu' }), ID).source).toBe('/gitops-deployer/acme/shop/prod%20eu');
  });
});
