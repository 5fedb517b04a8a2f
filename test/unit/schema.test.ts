import 'reflect-metadata';
import fs from 'node:fs';
import { buildAppSchema, renderSchema, schemaFilePath } from '../../src/graphql/schema';

test('the committed schema/schema.graphql is what the code emits (run `npm run emit-schema`)', async () => {
  const emitted = renderSchema(await buildAppSchema());
  expect(fs.readFileSync(schemaFilePath(), 'utf8')).toBe(emitted);
});

test('the schema keeps the names API.md makes binding', async () => {
  const sdl = renderSchema(await buildAppSchema());
  for (const name of ['account(', 'wallet(', 'transactions(', 'quote(', 'rateCard(', 'auditLedger', 'createAccount(', 'grantCredits(', 'charge(',
    'chargeGeneration(', 'reserveCredits(', 'captureHold(', 'releaseHold(', 'refund(', 'reverseTransaction(', 'updateWallet(', 'createApiKey(',
    'revokeApiKey(', 'issueUserToken(', 'walletEvents(', 'scalar Credits', 'type LedgerTransactionConnection', 'type PageInfo']) {
    expect(sdl).toContain(name);
  }
});
