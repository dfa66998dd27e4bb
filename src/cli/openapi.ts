/** `sluice openapi`: print the OpenAPI 3.1 document of the database. */
import { openDatabase } from '../db/open.ts';
import { loadSnapshot } from '../schema/load.ts';
import { openapiDocument } from '../openapi/document.ts';
import { configFromFlags, type CommonFlags } from './options.ts';

export async function openapiCommand(flags: CommonFlags): Promise<void> {
  const { config } = await configFromFlags(flags);
  const db = openDatabase(config.database);
  try {
    const snapshot = await loadSnapshot(db, config.database.schemas);
    process.stdout.write(`${JSON.stringify(openapiDocument(snapshot, config), null, 2)}\n`);
  } finally {
    await db.close();
  }
}
