import fs from 'node:fs';
import path from 'node:path';
import config from '../../codegen';

const root = path.resolve(__dirname, '../..');

test('the committed src/client/generated/ is what codegen.ts generates (run `npm run codegen`)', async () => {
  // The CLI and the plugins are ES modules with ESM-only dependencies. Imported one by one first:
  // jest's ESM loader fails when two imports share modules still being loaded (the CLI loads its
  // plugins at the same time).
  await import('@graphql-codegen/typescript-operations');
  await import('@graphql-codegen/typed-document-node');
  const { generate } = await import('@graphql-codegen/cli');
  const outputs = (await generate({ ...config, cwd: root, silent: true }, false)) as { filename: string; content: string }[];
  expect(outputs.map((o) => o.filename).sort()).toEqual(Object.keys(config.generates ?? {}).sort());
  for (const output of outputs) {
    expect(fs.readFileSync(path.resolve(root, output.filename), 'utf8')).toBe(output.content);
  }
});
