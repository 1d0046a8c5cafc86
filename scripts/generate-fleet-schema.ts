/**
 * Writes `schemas/fleet.schema.json` from the fleet file's zod schema (cli/fleet/fleet-schema.ts). Run
 * after changing it: `npx tsx scripts/generate-fleet-schema.ts`. A unit test fails while the file is stale.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderFleetSchemaFile } from '../cli/fleet/fleet-json-schema';

const repoRoot = path.resolve(import.meta.dirname, '..');
const file = await renderFleetSchemaFile(repoRoot);
await mkdir(path.dirname(file.path), { recursive: true });
await writeFile(file.path, file.content);
console.log(`wrote ${path.relative(process.cwd(), file.path)}`);
