import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  FLEET_SCHEMA_ID,
  fleetJsonSchema,
  renderFleetSchemaFile,
} from '../../../cli/fleet/fleet-json-schema';
import { parseFleetText, validateFleet } from '../../../cli/fleet/read-fleet-file';

const repoRoot = path.resolve(__dirname, '../../..');

describe('schemas/fleet.schema.json', () => {
  it('is exactly what the generator writes (run `npx tsx scripts/generate-fleet-schema.ts` after a schema change)', async () => {
    const file = await renderFleetSchemaFile(repoRoot);
    const committed = await readFile(file.path, 'utf8').catch(() => '<missing>');
    expect(committed).toEqual(file.content);
  });

  it('is identified and strict', () => {
    expect(fleetJsonSchema()).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: FLEET_SCHEMA_ID,
      title: 'peerctl fleet file',
      additionalProperties: false,
      required: ['clusters'],
      properties: { clusters: { items: { additionalProperties: false, required: ['name', 'address'] } } },
    });
  });

  it('examples/fleet.yaml is a valid fleet file', async () => {
    const file = path.join(repoRoot, 'examples', 'fleet.yaml');
    const parsed = parseFleetText(await readFile(file, 'utf8'), file);
    expect(parsed.problems).toEqual([]);
    expect(validateFleet(parsed.data).problems).toEqual([]);
  });
});
