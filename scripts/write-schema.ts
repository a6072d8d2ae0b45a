/** Writes config/authbridge.schema.json from the zod schema (the single source of truth). */
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../src/config/schema.js';

export const SCHEMA_FILE = new URL('../config/authbridge.schema.json', import.meta.url);

export function renderSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(SCHEMA_FILE, renderSchema());
  console.log(`wrote ${SCHEMA_FILE.pathname}`);
}
