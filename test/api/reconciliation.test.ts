/**
 * Vendor reconciliation through GraphQL (README, "Platform report and vendor reconciliation"): an
 * invoice is compared with the vendor costs recorded on charges (model_costs_daily) over whole UTC
 * days, stored, listed, and a flagged one raises one VENDOR_VARIANCE admin alert in the same
 * transaction; a clean one raises none; every bad invoice is refused and writes nothing.
 *
 * Costs are recorded on random days of 2321–2329 (this file's years) under a vendor name of this run's
 * own, so other files and earlier runs on a shared PostgreSQL database add nothing to them.
 */
import { sql } from 'drizzle-orm';
import {
  AdminAlertsDocument, ChargeDocument, ImportVendorInvoiceDocument, MarkAdminAlertsReadDocument, ReconciliationDocument, ReconciliationsDocument,
  type VendorInvoiceInput,
} from '../../src/client';
import type { ResultOf } from '@graphql-typed-document-node/core';
import { rows } from '../../src/db/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

const DAY_MS = 86_400_000;
const year = 2321 + Math.floor(Math.random() * 9);
const start = Date.UTC(year, 0, 1) + Math.floor(Math.random() * 350) * DAY_MS;
const day = (n: number, time = '00:00:00') => `${new Date(start + n * DAY_MS).toISOString().slice(0, 10)}T${time}.000Z`;
const tag = uniqueKey('rc').toLowerCase();
const VENDOR = `${tag}-vendor`;
const m = (n: number) => `${tag}-m${n}`;
let accountId = '';

async function costly(model: string, cost: string, currency = 'USD', units: number | Record<string, number> = 1) {
  await t.op(ChargeDocument, {
    input: { accountId, amount: '1', model, idempotencyKey: uniqueKey('rc-charge'), vendorUsage: { vendor: VENDOR, cost, currency, units } },
  });
}

beforeAll(async () => {
  t.clock.set(new Date(day(0, '08:00:00')));
  accountId = await t.createAccount('Reconciled');
  await t.grant(accountId, '1000');
  // Day 0: m1 10.00 (1000 units), m2 5 (10 units), m3 1 EUR (another currency: not compared with a USD invoice).
  t.clock.set(new Date(day(0, '10:00:00')));
  await costly(m(1), '10.00', 'USD', { input: 600, output: 400 });
  await costly(m(2), '5', 'USD', 10);
  await costly(m(3), '1', 'EUR');
  // Day 1: m1 0.5 more (so 10.50), m4 2 (the invoice will lack it).
  t.clock.set(new Date(day(1, '23:59:00')));
  await costly(m(1), '0.5', 'USD', 50);
  await costly(m(4), '2', 'USD', 4);
  // Day 2: outside the invoices' [day 0, day 2).
  t.clock.set(new Date(day(2, '00:00:00')));
  await costly(m(1), '100', 'USD');
  t.clock.set(new Date(day(5, '09:00:00')));
});

const invoice = (lines: VendorInvoiceInput['lines'], extra: Partial<VendorInvoiceInput> = {}): VendorInvoiceInput =>
  ({ vendor: VENDOR, from: day(0), to: day(2), lines, ...extra });
const usd = (amount: string) => ({ amount, currency: 'USD' });

/** Every admin alert about this subject (all pages: on a shared database other files' alerts come and go). */
async function alertsAbout(subjectId: string) {
  const found = [];
  let after: string | null | undefined = null;
  do {
    const page: ResultOf<typeof AdminAlertsDocument>['adminAlerts'] = (await t.op(AdminAlertsDocument, { first: 100, after })).adminAlerts;
    found.push(...page.edges.map((e) => e.node).filter((n) => n.subjectId === subjectId));
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : undefined;
  } while (after);
  return found;
}

let flaggedId = '';

test('a flagged import: summed lines, every status, stored, listed, one admin alert', async () => {
  const { importVendorInvoice: r } = await t.op(ImportVendorInvoiceDocument, {
    input: invoice([
      { model: m(1), cost: '10.00', currency: 'USD', units: '1000' },
      { model: m(2), cost: '4', currency: 'USD' },
      { model: m(1), cost: '0.60', currency: 'USD', units: '50' },
      { model: m(5), cost: '3', currency: 'USD' },
    ]),
  });
  flaggedId = r.id;
  expect(r).toMatchObject({ vendor: VENDOR, from: day(0), to: day(2), currency: 'USD', tolerancePercent: '2', flaggedRows: 3, createdAt: day(5, '09:00:00') });
  expect(r.rows).toEqual([
    // 10.50 recorded against 10.60 invoiced: −0.94%, within 2% (matched though not equal).
    { model: m(1), status: 'MATCHED', flagged: false, variancePercent: '-0.94', invoiceCost: usd('10.60'), ledgerCost: usd('10.50'), invoiceUnits: '1050', ledgerUnits: '1050' },
    { model: m(2), status: 'MISMATCH', flagged: true, variancePercent: '25.00', invoiceCost: usd('4.00'), ledgerCost: usd('5.00'), invoiceUnits: null, ledgerUnits: '10' },
    { model: m(4), status: 'LEDGER_ONLY', flagged: true, variancePercent: null, invoiceCost: null, ledgerCost: usd('2.00'), invoiceUnits: null, ledgerUnits: '4' },
    { model: m(5), status: 'INVOICE_ONLY', flagged: true, variancePercent: null, invoiceCost: usd('3.00'), ledgerCost: null, invoiceUnits: null, ledgerUnits: null },
  ]);
  const stored = (await t.op(ReconciliationDocument, { id: r.id })).reconciliation;
  expect(stored).toEqual(r);
  const listed = (await t.op(ReconciliationsDocument, { vendor: VENDOR })).reconciliations;
  expect(listed.edges.map((e) => e.node)).toEqual([r]);

  const alerts = await alertsAbout(r.id);
  expect(alerts).toHaveLength(1);
  expect(alerts[0]).toMatchObject({ kind: 'VENDOR_VARIANCE', readAt: null });
  expect(alerts[0].message).toBe(
    `Vendor ${VENDOR}, ${day(0).slice(0, 10)} to ${day(1).slice(0, 10)} (USD): 3 of 4 models flagged: `
    + `${m(2)} MISMATCH (+25.00%), ${m(4)} LEDGER_ONLY, ${m(5)} INVOICE_ONLY.`,
  );
});

test('a clean import (within a tolerance of 0) raises no alert; newest listed first, paged', async () => {
  const { importVendorInvoice: r } = await t.op(ImportVendorInvoiceDocument, {
    input: invoice([
      { model: m(1), cost: '10.5', currency: 'USD' }, { model: m(2), cost: '5.000', currency: 'USD' }, { model: m(4), cost: '2', currency: 'USD' },
    ], { tolerancePercent: '0' }),
  });
  expect(r.flaggedRows).toBe(0);
  expect(r.rows.map((x) => [x.model, x.status, x.variancePercent])).toEqual([[m(1), 'MATCHED', '0.00'], [m(2), 'MATCHED', '0.00'], [m(4), 'MATCHED', '0.00']]);
  expect(await alertsAbout(r.id)).toEqual([]);

  const first = (await t.op(ReconciliationsDocument, { vendor: VENDOR, first: 1 })).reconciliations;
  expect(first.edges.map((e) => e.node.id)).toEqual([r.id]);
  expect(first.pageInfo.hasNextPage).toBe(true);
  const second = (await t.op(ReconciliationsDocument, { vendor: VENDOR, first: 1, after: first.pageInfo.endCursor })).reconciliations;
  expect(second.edges.map((e) => e.node.id)).toEqual([flaggedId]);
  expect(second.pageInfo.hasNextPage).toBe(false);
  expect((await t.op(ReconciliationsDocument, { vendor: `${VENDOR}-other` })).reconciliations.edges).toEqual([]);
  // A page's rows are read in one statement, not one per reconciliation.
  const both = await t.op(ReconciliationsDocument, { vendor: VENDOR, first: 2 });
  expect(both.reconciliations.edges.map((e) => e.node.rows.length)).toEqual([3, second.edges[0].node.rows.length]);
  const statementsForOne = await t.countQueries(() => t.op(ReconciliationsDocument, { vendor: VENDOR, first: 1 }));
  expect(await t.countQueries(() => t.op(ReconciliationsDocument, { vendor: VENDOR, first: 2 }))).toBe(statementsForOne);
  expect((await t.op(ReconciliationDocument, { id: '00000000-0000-4000-8000-000000000000' })).reconciliation).toBeNull();
});

test('admin alerts are marked read once; unreadOnly leaves them out', async () => {
  const [alert] = await alertsAbout(flaggedId);
  expect((await t.op(MarkAdminAlertsReadDocument, { ids: [alert.id, 'not-an-id'] })).markAdminAlertsRead).toBe(1);
  expect((await t.op(MarkAdminAlertsReadDocument, { ids: [alert.id] })).markAdminAlertsRead).toBe(0);
  expect((await alertsAbout(flaggedId))[0].readAt).toBe(day(5, '09:00:00'));
  const unread = (await t.op(AdminAlertsDocument, { unreadOnly: true, first: 100 })).adminAlerts.edges;
  expect(unread.some((e) => e.node.id === alert.id)).toBe(false);
});

test('ADMIN keys only (READONLY keys included: admin alerts and invoices are the operator\'s)', async () => {
  const tokens = [await t.key('READONLY'), await t.key('SERVICE'), await t.userToken(accountId)];
  for (const token of tokens) {
    expect((await t.opFails(ImportVendorInvoiceDocument, { input: invoice([{ model: m(1), cost: '1', currency: 'USD' }]) }, token)).code).toBe('FORBIDDEN');
    expect((await t.opFails(ReconciliationsDocument, {}, token)).code).toBe('FORBIDDEN');
    expect((await t.opFails(ReconciliationDocument, { id: flaggedId }, token)).code).toBe('FORBIDDEN');
    expect((await t.opFails(AdminAlertsDocument, {}, token)).code).toBe('FORBIDDEN');
    expect((await t.opFails(MarkAdminAlertsReadDocument, { ids: [] }, token)).code).toBe('FORBIDDEN');
  }
});

describe('bad invoices are refused (BAD_USER_INPUT naming the field) and write nothing', () => {
  /** What a bad invoice could have written: this file's vendor (or a blank one), its rows, alerts naming it. */
  const counts = async () => {
    const [c] = await rows<{ r: string; rr: string; a: string }>(t.database.db, sql`
      with mine as (select id from vendor_reconciliations where vendor in (${VENDOR}, '', '  '))
      select (select count(*) from mine) as r,
        (select count(*) from vendor_reconciliation_rows where reconciliation_id in (select id from mine)) as rr,
        (select count(*) from admin_alerts where subject_id in (select id from mine) or message like ${`%${tag}%`} or message like 'Vendor , %') as a`);
    return c;
  };
  const line = (fields: Partial<VendorInvoiceInput['lines'][number]> = {}) => ({ model: m(2), cost: '1', currency: 'USD', ...fields });
  test.each([
    ['from = to', invoice([line()], { to: day(0) }), 'to'],
    ['from after to', invoice([line()], { from: day(2), to: day(0) }), 'to'],
    ['more than 366 days', invoice([line()], { to: day(367) }), 'to'],
    ['from not a UTC midnight', invoice([line()], { from: day(0, '00:00:01') }), 'from'],
    ['to not a UTC midnight', invoice([line()], { to: day(2, '12:00:00') }), 'to'],
    ['a negative cost', invoice([line(), line({ cost: '-1' })]), 'lines[1].cost'],
    ['a malformed cost', invoice([line({ cost: '1,5' })]), 'lines[0].cost'],
    ['negative units', invoice([line({ units: '-1' })]), 'lines[0].units'],
    ['malformed units', invoice([line({ units: '1e9' })]), 'lines[0].units'],
    ['an unknown currency', invoice([line({ currency: 'ABC' })]), 'lines[0].currency'],
    ['mixed currencies', invoice([line(), line({ model: m(1), currency: 'EUR' })]), 'lines[1].currency'],
    ['no lines', invoice([]), 'lines'],
    ['1,001 lines', invoice(Array.from({ length: 1001 }, (_, i) => line({ model: `${tag}-x${i}` }))), 'input.lines'],
    ['a tolerance above 100', invoice([line()], { tolerancePercent: '101' }), 'tolerancePercent'],
    ['a negative tolerance', invoice([line()], { tolerancePercent: '-0.5' }), 'tolerancePercent'],
    ['a blank vendor', invoice([line()], { vendor: '  ' }), 'vendor'],
  ] as [string, VendorInvoiceInput, string][])('%s', async (_name, input, field) => {
    const before = await counts();
    const error = await t.opFails(ImportVendorInvoiceDocument, { input });
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.extensions.field).toBe(field);
    expect(await counts()).toEqual(before);
  });

  test('1,000 lines are accepted', async () => {
    const lines = Array.from({ length: 1000 }, (_, i) => line({ model: `${tag}-y${String(i).padStart(4, '0')}` }));
    const r = (await t.op(ImportVendorInvoiceDocument, { input: invoice(lines) })).importVendorInvoice;
    expect(r.rows).toHaveLength(1003); // 1,000 invoice-only, and m1, m2, m4 from the ledger
    expect(r.flaggedRows).toBe(1003);
    expect(await alertsAbout(r.id)).toHaveLength(1);
  });
});
