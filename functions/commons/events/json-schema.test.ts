import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { eventJsonSchema, eventSchemaFileName, renderEventSchemaFiles } from './json-schema';
import { EVENT_TYPES } from './schemas';

const repoRoot = path.resolve(__dirname, '../../..');
const eventsDir = path.join(repoRoot, 'events');

describe('events/*.schema.json', () => {
  it('are exactly what the generator writes (run `npx tsx scripts/generate-event-schemas.ts` after a schema change)', async () => {
    for (const file of await renderEventSchemaFiles(repoRoot)) {
      const committed = await readFile(file.path, 'utf8').catch(() => '<missing>');
      expect({ file: path.basename(file.path), content: committed }).toEqual({
        file: path.basename(file.path),
        content: file.content,
      });
    }
  });

  it('exist for the known event types only', async () => {
    const files = (await readdir(eventsDir)).filter((name) => name.endsWith('.schema.json')).sort();
    expect(files).toEqual(EVENT_TYPES.map(eventSchemaFileName).sort());
  });

  it.each(EVENT_TYPES)('%s is identified and strict', (type) => {
    const schema = eventJsonSchema(type);
    expect(schema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: `urn:consul-peering-automation:event:${type}:v1`,
      title: type,
      additionalProperties: false,
      required: ['type', 'version', 'id', 'time', 'correlationId', 'data'],
    });
    expect(schema).toHaveProperty('properties.data.additionalProperties', false);
    expect(typeof schema.description).toBe('string');
  });
});
