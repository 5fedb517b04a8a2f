/** `npm run emit-schema`: writes schema/schema.graphql from the resolvers (committed; a test compares). */
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { buildAppSchema, renderSchema, schemaFilePath } from '../graphql/schema';

buildAppSchema().then((schema) => {
  const file = schemaFilePath();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, renderSchema(schema));
  process.stdout.write(`wrote ${file}\n`);
}).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
