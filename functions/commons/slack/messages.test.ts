import { createEvent } from '../events';
import { CommandUsageError } from './command-parser';
import {
  escapeMrkdwn,
  OUTCOME_MESSAGE_MAX_LENGTH,
  outcomeMessage,
  outcomeText,
  statusText,
  unknownCommandText,
  usageErrorText,
} from './messages';

const ref = (name: string) => ({ name, connectionSecret: `consul-peering/clusters/${name}` });

test("Slack's control characters in anything we did not write are escaped", () => {
  expect(escapeMrkdwn('<!channel> & <@U1|x>')).toBe('&lt;!channel&gt; &amp; &lt;@U1|x&gt;');
  expect(unknownCommandText('/peering', '<!here>')).toContain('`&lt;!here&gt;`');
  expect(usageErrorText('/peering', new CommandUsageError('`<x>` is bad', 'peer'))).toMatch(
    /^`&lt;x&gt;` is bad\nUsage: `\/peering peer <acceptor> <dialer>`/,
  );
  const failed = createEvent(
    'peering.failed',
    { acceptor: ref('dc1'), dialer: ref('dc2'), reason: 'token-rejected', message: 'see <!everyone> & fix' },
    { correlationId: 'slack-1' },
  );
  expect(outcomeText(failed, 'U0001')).toBe(
    '<@U0001> :x: Peering `dc1` → `dc2` failed (`token-rejected`, request slack-1).\nsee &lt;!everyone&gt; &amp; fix',
  );
});

test('status lists are bounded', () => {
  const clusters = Array.from({ length: 60 }, (_, i) => `dc${i}`);
  const text = statusText(clusters, []);
  expect(text).toContain('*Registered clusters* (60)');
  expect(text).toContain('and 10 more');
  expect(text).toContain('*Requested peerings* (0, acceptor → dialer): _none_');
});

test('a failure reaches Slack ephemeral, scrubbed and short; an established peering is posted in the channel', () => {
  const secretId = 'b8f3c1a2-1111-4222-8333-944445555666';
  const failed = createEvent(
    'peering.failed',
    {
      acceptor: ref('dc1'),
      dialer: ref('dc2'),
      reason: 'consul-error',
      message: `ACL not found for token ${secretId}; Authorization: Bearer abc.def; ${'x'.repeat(1000)}`,
    },
    { correlationId: 'slack-2' },
  );
  const message = outcomeMessage(failed, 'U0001');
  expect(message.response_type).toBe('ephemeral');
  expect(message.text).not.toContain(secretId);
  expect(message.text).not.toContain('abc.def');
  expect(message.text).toContain('(`consul-error`, request slack-2)');
  expect(message.text.split('\n')[1]?.length).toBeLessThanOrEqual(OUTCOME_MESSAGE_MAX_LENGTH);
  const established = createEvent(
    'peering.established',
    {
      acceptor: ref('dc1'),
      dialer: ref('dc2'),
      peeringId: '9d5f0c1e-0000-4000-8000-000000000001',
      acceptorState: 'ACTIVE',
      dialerState: 'ACTIVE',
    },
    { correlationId: 'slack-3' },
  );
  expect(outcomeMessage(established, undefined).response_type).toBe('in_channel');
});
