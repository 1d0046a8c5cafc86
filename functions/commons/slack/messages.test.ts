import { createEvent } from '../events';
import { CommandUsageError } from './command-parser';
import { escapeMrkdwn, outcomeText, statusText, unknownCommandText, usageErrorText } from './messages';

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
