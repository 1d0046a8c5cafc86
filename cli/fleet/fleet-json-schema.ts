/**
 * Renders `schemas/fleet.schema.json` from the fleet file's zod schema. Build-time only (the generator
 * script and the staleness test use it), formatted with the repo's prettier options so that
 * `prettier --check` agrees, as functions/commons/events/json-schema.ts does for the events.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as babel from 'prettier/plugins/babel';
import * as estree from 'prettier/plugins/estree';
import { format } from 'prettier/standalone';
import * as z from 'zod';
import { FleetSchema } from './fleet-schema';

export const FLEET_SCHEMA_ID = 'urn:consul-peering-automation:peerctl:fleet:v1';

/** What a person may write (`io: 'input'`: defaulted fields are optional). */
export function fleetJsonSchema(): Record<string, unknown> {
  const { $schema, title, description, ...rest } = z.toJSONSchema(FleetSchema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'throw',
  });
  return { $schema, $id: FLEET_SCHEMA_ID, title, description, ...rest };
}

export const fleetSchemaPath = (repoRoot: string): string =>
  path.join(repoRoot, 'schemas', 'fleet.schema.json');

export async function renderFleetSchemaFile(repoRoot: string): Promise<{ path: string; content: string }> {
  const options = JSON.parse(await readFile(path.join(repoRoot, '.prettierrc.json'), 'utf8')) as Parameters<
    typeof format
  >[1];
  return {
    path: fleetSchemaPath(repoRoot),
    content: await format(JSON.stringify(fleetJsonSchema(), null, 2), {
      ...options,
      parser: 'json',
      plugins: [babel, estree],
    }),
  };
}
