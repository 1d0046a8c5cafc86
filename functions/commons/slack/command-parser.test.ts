import fc from 'fast-check';
import { ValidationError } from '../errors';
import {
  CommandUsageError,
  isSslCheck,
  MAX_TEXT_CHARS,
  parseCommandText,
  parseSlashCommandForm,
} from './command-parser';

const FORM = {
  token: 'deprecated-verification-token',
  team_id: 'T0001',
  team_domain: 'example',
  channel_id: 'C2147483705',
  channel_name: 'ops',
  user_id: 'U2147483697',
  user_name: 'alice',
  command: '/peering',
  text: 'peer dc1 dc2',
  api_app_id: 'A123456',
  response_url: 'https://hooks.slack.com/commands/T0001/1234/abcd',
  trigger_id: '13345224609.738474920.8088930838d88f008e0',
};
const encode = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const without = (field: string) => Object.fromEntries(Object.entries(FORM).filter(([key]) => key !== field));

describe('parseSlashCommandForm', () => {
  test('reads the fields we use and ignores the rest', () => {
    expect(parseSlashCommandForm(encode(FORM))).toEqual({
      command: '/peering',
      text: 'peer dc1 dc2',
      userId: 'U2147483697',
      userName: 'alice',
      channelId: 'C2147483705',
      responseUrl: 'https://hooks.slack.com/commands/T0001/1234/abcd',
      teamId: 'T0001',
    });
  });

  test('text may be absent (a bare /peering)', () => {
    expect(parseSlashCommandForm(encode(without('text'))).text).toBe('');
  });

  test.each([
    ['user_id', { user_id: 'alice' }],
    ['channel_id', { channel_id: '#ops' }],
    ['team_id', { team_id: '' }],
    ['command', { command: 'peering' }],
    ['text', { text: 'x'.repeat(MAX_TEXT_CHARS + 1) }],
    ['response_url', { response_url: '' }],
  ])('a bad %s is a ValidationError naming it', (field, change) => {
    expect(() => parseSlashCommandForm(encode({ ...FORM, ...change }))).toThrow(
      expect.objectContaining({ field }) as Error,
    );
  });

  test('a missing required field is named', () => {
    expect(() => parseSlashCommandForm(encode(without('user_id')))).toThrow(/user_id is required/);
  });

  test('a field given twice is refused, so what is checked is what is used', () => {
    expect(() => parseSlashCommandForm(`${encode(FORM)}&user_id=U0OTHER`)).toThrow(
      expect.objectContaining({ field: 'user_id' }) as Error,
    );
  });

  test('the ssl check is recognised', () => {
    expect(isSslCheck('ssl_check=1&token=abc')).toBe(true);
    expect(isSslCheck(encode(FORM))).toBe(false);
  });
});

describe('parseCommandText', () => {
  test.each([
    ['peer dc1 dc2', { kind: 'peer', acceptor: 'dc1', dialer: 'dc2' }],
    ['  PEER   us-east-1\u00a0eu-west-1 ', { kind: 'peer', acceptor: 'us-east-1', dialer: 'eu-west-1' }],
    ['status', { kind: 'status' }],
    ['Status', { kind: 'status' }],
    ['help', { kind: 'help' }],
    ['help peer', { kind: 'help' }],
    ['', { kind: 'help' }],
    ['   ', { kind: 'help' }],
    ['delete dc1', { kind: 'unknown', word: 'delete' }],
  ])('%j', (text, expected) => {
    expect(parseCommandText(text)).toEqual(expected);
  });

  test('an unknown word is cut short, since it is echoed back', () => {
    expect(parseCommandText(`${'x'.repeat(100)} y`)).toEqual({ kind: 'unknown', word: 'x'.repeat(40) });
  });

  test('text longer than a person types is a usage error', () => {
    expect(() => parseCommandText('x'.repeat(MAX_TEXT_CHARS + 1))).toThrow(/too long/);
  });

  test.each([
    ['peer', /exactly two cluster names/],
    ['peer dc1', /exactly two cluster names/],
    ['peer dc1 dc2 dc3', /exactly two cluster names/],
    ['peer DC1 dc2', /`DC1` is not a cluster name/],
    ['peer dc1 -dc2', /`-dc2` is not a cluster name/],
    ['peer dc1 dc1', /two different clusters/],
    ['status now', /takes no arguments/],
  ])('%j is a usage error', (text, message) => {
    expect(() => parseCommandText(text)).toThrow(CommandUsageError);
    expect(() => parseCommandText(text)).toThrow(message);
  });
});

describe('fuzz: only typed errors, whatever is typed or posted', () => {
  const expectTyped = (run: () => unknown): void => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
    }
  };

  test('command text', () => {
    const words = fc.oneof(
      fc.constantFrom('peer', 'status', 'help', 'PEER', 'dc1', 'dc2', '-', ''),
      fc.stringMatching(/^[a-z0-9-]{0,70}$/),
      fc.string({ unit: 'binary' }),
    );
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 600 }),
      fc.array(words, { maxLength: 5 }).map((w) => w.join(' ')),
    );
    fc.assert(
      fc.property(text, (t) => {
        expectTyped(() => {
          const command = parseCommandText(t);
          expect(['peer', 'status', 'help', 'unknown']).toContain(command.kind);
          if (command.kind === 'peer') expect(command.acceptor).not.toBe(command.dialer);
        });
      }),
      { numRuns: 2000 },
    );
  });

  test('form bodies', () => {
    const body = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 600 }),
      fc
        .dictionary(fc.constantFrom(...Object.keys(FORM), 'ssl_check'), fc.string({ unit: 'binary' }))
        .map((fields) => encode({ ...FORM, ...fields })),
    );
    fc.assert(
      fc.property(body, (b) => {
        expectTyped(() => parseSlashCommandForm(b));
      }),
      { numRuns: 1000 },
    );
  });
});
