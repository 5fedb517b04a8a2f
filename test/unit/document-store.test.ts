/**
 * Apollo's document store (src/server/apollo.ts): bounded by the JSON size of the documents it keeps,
 * so clients sending endless distinct documents (values written into the text) cannot fill the heap.
 */
import { parse } from 'graphql';
import { boundedDocumentStore, DOCUMENT_STORE_JSON_BYTES_MAX } from '../../src/server/apollo';

const grants = (batch: number) => parse(`mutation {\n${Array.from({ length: 25 }, (_, k) =>
  `g${k}: grantCredits(input: { accountId: "${batch}-${k}", amount: "1000000", source: PURCHASE, idempotencyKey: "seed-${batch}-${k}" }) { id }`).join('\n')}\n}`);

test('2,000 distinct 25-field documents: only what fits in the bound is kept, the newest included', async () => {
  const store = boundedDocumentStore();
  let jsonBytes = 0;
  for (let batch = 0; batch < 2_000; batch += 1) {
    const document = grants(batch);
    jsonBytes += Buffer.byteLength(JSON.stringify(document));
    await store.set(`doc-${batch}`, document);
  }
  expect(jsonBytes).toBeGreaterThan(10 * DOCUMENT_STORE_JSON_BYTES_MAX); // more than Apollo's default store (30 MiB) holds
  const kept = store.keys();
  expect(kept.length).toBeGreaterThan(10);
  expect(kept.length).toBeLessThan(2_000 / 10);
  expect(await store.get('doc-1999')).toBeDefined();
  expect(await store.get('doc-0')).toBeUndefined();
});
