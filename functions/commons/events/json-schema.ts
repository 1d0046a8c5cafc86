/**
 * Renders the JSON Schema files in `events/` from the zod schemas. Build-time only (the generator script
 * and the drift test use it); no function imports it, so prettier never reaches a Lambda bundle.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as babel from 'prettier/plugins/babel';
import * as estree from 'prettier/plugins/estree';
import { format } from 'prettier/standalone';
import * as z from 'zod/mini';
import { EVENT_TYPES, EVENT_VERSION, eventSchemas, type EventType } from './schemas';

export const eventSchemaId = (type: EventType): string =>
  `urn:consul-peering-automation:event:${type}:v${EVENT_VERSION}`;

export const eventSchemaFileName = (type: EventType): string => `${type}.schema.json`;

/**
 * The JSON Schema (draft 2020-12) of one event type, describing what a producer may send (`io: 'input'`:
 * defaulted fields are optional). Cross-field rules (acceptor ≠ dialer) are not expressible and are
 * stated in the description instead.
 */
export function eventJsonSchema(type: EventType): Record<string, unknown> {
  const { $schema, title, description, ...rest } = z.toJSONSchema(eventSchemas[type], {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'throw',
  });
  // Identification first, for a reader of the file.
  return { $schema, $id: eventSchemaId(type), title, description, ...rest };
}

/**
 * Every schema file as the generator writes it, formatted with the repo's prettier options so that
 * `prettier --check` agrees. Prettier's standalone build, because its Node entry loads itself through a
 * dynamic import that Jest's CommonJS runtime refuses, and the drift test must run this very function.
 */
export async function renderEventSchemaFiles(repoRoot: string): Promise<{ path: string; content: string }[]> {
  const options = JSON.parse(await readFile(path.join(repoRoot, '.prettierrc.json'), 'utf8')) as Parameters<
    typeof format
  >[1];
  return Promise.all(
    EVENT_TYPES.map(async (type) => ({
      path: path.join(repoRoot, 'events', eventSchemaFileName(type)),
      content: await format(JSON.stringify(eventJsonSchema(type), null, 2), {
        ...options,
        parser: 'json',
        plugins: [babel, estree],
      }),
    })),
  );
}
