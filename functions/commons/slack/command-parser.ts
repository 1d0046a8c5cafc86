import * as z from 'zod/mini';
import { ValidationError } from '../errors';
import { ClusterNameSchema } from '../events';
import { toValidationError } from '../events/validation-error';

/**
 * The edge parser of a Slack slash command: the form Slack posts (`application/x-www-form-urlencoded`)
 * and the words typed after the command. Run only after the request's signature was verified.
 */

/** Slack caps what a person can type; anything longer did not come from a person typing a command. */
export const MAX_TEXT_CHARS = 500;
/** Same id shapes as the stack's configuration checks (infra/config/resolve-config.ts). */
export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
export const SLACK_CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;

const boundedId = (pattern: RegExp, what: string) =>
  z
    .string()
    .check(
      z.maxLength(32, { error: `must be a Slack ${what} id` }),
      z.regex(pattern, `must be a Slack ${what} id`),
    );

const SlashCommandFormSchema = z.object({
  command: z
    .string()
    .check(z.regex(/^\/[a-z0-9_-]{1,31}$/, { error: "must be a slash command such as '/peering'" })),
  text: z._default(
    z.string().check(z.maxLength(MAX_TEXT_CHARS, { error: `must be at most ${MAX_TEXT_CHARS} characters` })),
    '',
  ),
  user_id: boundedId(SLACK_USER_ID, 'user'),
  user_name: z.optional(z.string().check(z.maxLength(80, { error: 'must be at most 80 characters' }))),
  channel_id: boundedId(SLACK_CHANNEL_ID, 'channel'),
  // Where it may point is checked by the caller (isAllowedResponseUrl), which knows the allowed base.
  response_url: z
    .string()
    .check(
      z.minLength(1, { error: 'is required' }),
      z.maxLength(2048, { error: 'must be at most 2048 characters' }),
    ),
  team_id: boundedId(/^[TE][A-Z0-9]{2,}$/, 'team'),
});

/** The fields of a slash command we use. Slack sends more (channel_name, trigger_id, …); they are ignored. */
export interface SlashCommandRequest {
  command: string;
  text: string;
  userId: string;
  userName: string | undefined;
  channelId: string;
  responseUrl: string;
  teamId: string;
}

const FIELDS = Object.keys(SlashCommandFormSchema.shape);

/**
 * Parses the form body. Everything wrong is a ValidationError naming the field; a field we read must
 * appear once, since two values would leave it to chance which one was checked and which one is used.
 */
export function parseSlashCommandForm(body: string): SlashCommandRequest {
  const form = new URLSearchParams(body);
  const candidate: Record<string, string> = {};
  for (const field of FIELDS) {
    const values = form.getAll(field);
    if (values.length > 1) throw new ValidationError(`${field} appears more than once`, field);
    const [value] = values;
    if (value !== undefined) candidate[field] = value;
  }
  const result = z.safeParse(SlashCommandFormSchema, candidate, { reportInput: true });
  if (!result.success) throw toValidationError(result.error.issues);
  const { data } = result;
  return {
    command: data.command,
    text: data.text,
    userId: data.user_id,
    userName: data.user_name,
    channelId: data.channel_id,
    responseUrl: data.response_url,
    teamId: data.team_id,
  };
}

/** Slack's SSL check (`ssl_check=1`), which carries no command and wants an empty 200. */
export const isSslCheck = (body: string): boolean => new URLSearchParams(body).get('ssl_check') === '1';

export type SlackCommand =
  | { kind: 'peer'; acceptor: string; dialer: string }
  | { kind: 'status' }
  | { kind: 'help' }
  /** A first word we do not know, cut to a short length (it is echoed back, escaped). */
  | { kind: 'unknown'; word: string };

/** The words were a known command used the wrong way; `message` is written for the person who typed them. */
export class CommandUsageError extends ValidationError {
  constructor(
    message: string,
    /** The command the usage belongs to, so the reply can show how it is used. */
    readonly usage: 'peer' | 'status' | 'general',
  ) {
    super(message, 'text');
  }
}

const UNKNOWN_WORD_CHARS = 40;
const HELP_WORDS = new Set(['help', '-h', '--help', '?']);

/**
 * The words after the command: `peer <acceptor> <dialer>`, `status`, `help` (or nothing). A known verb
 * used wrongly is a CommandUsageError; an unknown verb is an `unknown` command. Nothing else is thrown.
 */
export function parseCommandText(text: string): SlackCommand {
  if (text.length > MAX_TEXT_CHARS) {
    throw new CommandUsageError(
      `That is too long for a command (at most ${MAX_TEXT_CHARS} characters).`,
      'general',
    );
  }
  const [first, ...args] = text
    .trim()
    .split(/\s+/u)
    .filter((word) => word !== '');
  if (first === undefined) return { kind: 'help' };
  const verb = first.toLowerCase();
  if (HELP_WORDS.has(verb)) return { kind: 'help' };
  if (verb === 'status') {
    if (args.length > 0) throw new CommandUsageError('`status` takes no arguments.', 'status');
    return { kind: 'status' };
  }
  if (verb === 'peer') return parsePeer(args);
  return { kind: 'unknown', word: Array.from(first).slice(0, UNKNOWN_WORD_CHARS).join('') };
}

function parsePeer(args: string[]): SlackCommand {
  const [acceptor, dialer, ...extra] = args;
  if (acceptor === undefined || dialer === undefined || extra.length > 0) {
    throw new CommandUsageError(
      `\`peer\` takes exactly two cluster names, the acceptor then the dialer (got ${args.length}).`,
      'peer',
    );
  }
  for (const name of [acceptor, dialer]) {
    if (!z.safeParse(ClusterNameSchema, name).success) {
      const shown = Array.from(name).slice(0, UNKNOWN_WORD_CHARS).join('');
      throw new CommandUsageError(
        `\`${shown}\` is not a cluster name: cluster names are DNS labels (1-63 lowercase letters, digits ` +
          "or '-', starting and ending with a letter or digit).",
        'peer',
      );
    }
  }
  if (acceptor === dialer) {
    throw new CommandUsageError('The acceptor and the dialer must be two different clusters.', 'peer');
  }
  return { kind: 'peer', acceptor, dialer };
}
