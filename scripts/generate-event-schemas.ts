/**
 * Writes `events/<type>.schema.json` from the zod schemas in functions/commons/events. Run after changing
 * a schema: `npx tsx scripts/generate-event-schemas.ts`. A unit test fails while the files are stale.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderEventSchemaFiles } from '#commons/events/json-schema';

const repoRoot = path.resolve(import.meta.dirname, '..');
for (const file of await renderEventSchemaFiles(repoRoot)) {
  await writeFile(file.path, file.content);
  console.log(`wrote ${path.relative(process.cwd(), file.path)}`);
}
