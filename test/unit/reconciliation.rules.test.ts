/**
 * Vendor reconciliation rules (src/modules/reconciliation/reconciliation.rules.ts) and the exact
 * decimal helpers they use: table-driven comparisons (matched, within tolerance, beyond it either way,
 * invoice-only, ledger-only, zero invoice, rounding of the variance), the invoice checks, and
 * properties of the exact percentage.
 */
import fc from 'fast-check';
import { checkInvoice, compareInvoice, compareModel, type InvoiceInput } from '../../src/modules/reconciliation/reconciliation.rules';
import { compareDecimals, exactMoneyText, percentOf, subtractDecimals, withinPercent } from '../../src/shared/decimal-math';
import { modelMargin } from '../../src/modules/reports/report-rules';
import { AppError } from '../../src/shared/errors';

const inv = (cost: string, units: string | null = null) => ({ cost, units });
const led = (cost: string, units = '0') => ({ cost, units });

describe('compareModel', () => {
  test.each([
    // invoice, ledger, tolerance → status, variancePercent
    ['exactly equal', '100', '100', '2', 'MATCHED', '0.00'],
    ['within tolerance, ledger above', '100', '101.5', '2', 'MATCHED', '1.50'],
    ['within tolerance, ledger below', '100', '98.5', '2', 'MATCHED', '-1.50'],
    ['at the tolerance exactly (inclusive)', '100', '102', '2', 'MATCHED', '2.00'],
    ['at the tolerance exactly, below', '100', '98', '2', 'MATCHED', '-2.00'],
    ['just beyond, ledger above (compared before rounding)', '100', '102.000001', '2', 'MISMATCH', '2.00'],
    ['beyond, ledger above', '100', '110', '2', 'MISMATCH', '10.00'],
    ['beyond, ledger below', '100', '90', '2', 'MISMATCH', '-10.00'],
    ['zero tolerance, any difference', '100', '100.0001', '0', 'MISMATCH', '0.00'],
    ['full tolerance', '100', '0', '100', 'MATCHED', '-100.00'],
    ['zero invoice, zero ledger', '0', '0', '2', 'MATCHED', null],
    ['zero invoice, ledger cost', '0', '0.01', '2', 'MISMATCH', null],
    ['zero invoice, 100% tolerance still beyond', '0.000', '5', '100', 'MISMATCH', null],
    ['variance rounds half up: 1/8 = 0.125%', '800', '801', '2', 'MATCHED', '0.13'],
    ['variance rounds half away from zero below: -0.125%', '800', '799', '2', 'MATCHED', '-0.13'],
    ['variance rounds down under half: 1/3 %', '300', '301', '2', 'MATCHED', '0.33'],
    ['variance of 2/3 %', '300', '302', '2', 'MATCHED', '0.67'],
    ['small amounts, many digits', '0.0125', '0.0126', '2', 'MATCHED', '0.80'],
  ])('%s: invoice %s, ledger %s, tolerance %s%% → %s %s', (_name, invoice, ledger, tolerance, status, variance) => {
    const row = compareModel('m', inv(invoice), led(ledger), tolerance);
    expect(row.status).toBe(status);
    expect(row.flagged).toBe(status !== 'MATCHED');
    expect(row.variancePercent).toBe(variance);
  });

  test('invoice only and ledger only are flagged, without a variance', () => {
    expect(compareModel('a', inv('5', '100'), null, '2')).toEqual({
      model: 'a', status: 'INVOICE_ONLY', invoiceCost: '5', ledgerCost: null, invoiceUnits: '100', ledgerUnits: null, variancePercent: null, flagged: true,
    });
    expect(compareModel('b', null, led('7', '42'), '2')).toEqual({
      model: 'b', status: 'LEDGER_ONLY', invoiceCost: null, ledgerCost: '7', invoiceUnits: null, ledgerUnits: '42', variancePercent: null, flagged: true,
    });
  });
});

test('small amounts: 0.0126 against 0.0125 is +0.80%, beyond 0.5% and within 1%', () => {
  expect(compareModel('m', inv('0.0125'), led('0.0126'), '0.5').status).toBe('MISMATCH');
  expect(compareModel('m', inv('0.0125'), led('0.0126'), '1').status).toBe('MATCHED');
});

test('compareInvoice: every model of either side, by name; units shown, never compared', () => {
  const rows = compareInvoice(
    new Map([['zeta', inv('10', '1000')], ['alpha', inv('20')], ['mid', inv('3')]]),
    new Map([['alpha', led('20.1', '5')], ['beta', led('4', '9')], ['mid', led('3', '999999')]]),
    '2',
  );
  expect(rows.map((r) => [r.model, r.status, r.variancePercent])).toEqual([
    ['alpha', 'MATCHED', '0.50'], ['beta', 'LEDGER_ONLY', null], ['mid', 'MATCHED', '0.00'], ['zeta', 'INVOICE_ONLY', null],
  ]);
});

describe('checkInvoice', () => {
  const valid = (): InvoiceInput => ({
    vendor: ' acme ', from: new Date('2321-03-01T00:00:00Z'), to: new Date('2321-04-01T00:00:00Z'),
    lines: [
      { model: 'gpt', cost: '10.50', currency: 'USD', units: '1000' },
      { model: 'img', cost: '1', currency: 'USD' },
      { model: 'gpt', cost: '0.25', currency: 'USD', units: '30' },
      { model: 'img', cost: '2', currency: 'USD', units: '7' },
    ],
  });

  test('sums lines by model, trims the vendor, defaults the tolerance to 2, covers whole days', () => {
    const checked = checkInvoice(valid());
    expect(checked).toMatchObject({ vendor: 'acme', currency: 'USD', tolerancePercent: '2', fromDay: '2321-03-01', lastDay: '2321-03-31' });
    expect([...checked.lines]).toEqual([['gpt', { cost: '10.75', units: '1030' }], ['img', { cost: '3', units: '7' }]]);
    expect(checkInvoice({ ...valid(), lines: [{ model: 'x', cost: '1', currency: 'USD' }] }).lines.get('x')).toEqual({ cost: '1', units: null });
  });

  const refusal = (change: Partial<InvoiceInput>): { field: unknown; message: string } => {
    try {
      checkInvoice({ ...valid(), ...change });
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('BAD_USER_INPUT');
      return { field: (error as AppError).details.field, message: (error as AppError).message };
    }
    throw new Error('expected a refusal');
  };
  const line = (fields: Record<string, unknown>) => [{ model: 'm', cost: '1', currency: 'USD', ...fields }] as InvoiceInput['lines'];
  const day = (text: string) => new Date(`${text}T00:00:00Z`);

  test.each([
    ['blank vendor', { vendor: '   ' }, 'vendor'],
    ['vendor too long', { vendor: 'v'.repeat(101) }, 'vendor'],
    ['from = to', { from: day('2321-03-01'), to: day('2321-03-01') }, 'to'],
    ['from after to', { from: day('2321-03-02'), to: day('2321-03-01') }, 'to'],
    ['from not a UTC midnight', { from: new Date('2321-03-01T05:00:00Z') }, 'from'],
    ['to not a UTC midnight', { to: new Date('2321-03-31T23:59:59.999Z') }, 'to'],
    ['367 days', { from: day('2321-01-01'), to: day('2322-01-03') }, 'to'],
    ['no lines', { lines: [] }, 'lines'],
    ['1,001 lines', { lines: Array.from({ length: 1001 }, (_, i) => ({ model: `m${i}`, cost: '1', currency: 'USD' })) }, 'lines'],
    ['negative cost', { lines: line({ cost: '-1' }) }, 'lines[0].cost'],
    ['malformed cost', { lines: line({ cost: '1e3' }) }, 'lines[0].cost'],
    ['cost with too many digits', { lines: line({ cost: '1.0000000000001' }) }, 'lines[0].cost'],
    ['negative units', { lines: line({ units: '-5' }) }, 'lines[0].units'],
    ['malformed units', { lines: line({ units: 'many' }) }, 'lines[0].units'],
    ['unknown currency', { lines: line({ currency: 'XYZ' }) }, 'lines[0].currency'],
    ['lowercase currency', { lines: line({ currency: 'usd' }) }, 'lines[0].currency'],
    ['mixed currencies', { lines: [...line({}), { model: 'n', cost: '1', currency: 'EUR' }] }, 'lines[1].currency'],
    ['blank model', { lines: line({ model: ' ' }) }, 'lines[0].model'],
    ['tolerance above 100', { tolerancePercent: '100.5' }, 'tolerancePercent'],
    ['negative tolerance', { tolerancePercent: '-1' }, 'tolerancePercent'],
    ['malformed tolerance', { tolerancePercent: 'two' }, 'tolerancePercent'],
  ] as [string, Partial<InvoiceInput>, string][])('%s → BAD_USER_INPUT on %s', (_name, change, field) => {
    expect(refusal(change).field).toBe(field);
  });

  test('366 days (a leap year), tolerance 0 and 100 are accepted', () => {
    expect(checkInvoice({ ...valid(), from: day('2324-01-01'), to: day('2325-01-01') }).lastDay).toBe('2324-12-31');
    expect(checkInvoice({ ...valid(), tolerancePercent: '0' }).tolerancePercent).toBe('0');
    expect(checkInvoice({ ...valid(), tolerancePercent: '100' }).tolerancePercent).toBe('100');
  });
});

describe('exact decimals', () => {
  test.each([
    ['1', '3', '33.33'], ['2', '3', '66.67'], ['-2', '3', '-66.67'], ['1', '800', '0.13'], ['-1', '800', '-0.13'],
    ['0', '5', '0.00'], ['-0.00001', '100', '0.00'], ['5', '0', null], ['123.456', '0.001', '12345600.00'],
  ])('percentOf(%s, %s) = %s', (n, d, expected) => {
    expect(percentOf(n, d)).toBe(expected);
  });

  test.each([
    ['12.5', 'USD', '12.50'], ['0.0125', 'USD', '0.0125'], ['7', 'JPY', '7'], ['7.5', 'JPY', '7.5'], ['1.2', 'KWD', '1.200'], ['-3', 'EUR', '-3.00'],
  ])('exactMoneyText(%s, %s) = %s', (amount, currency, expected) => {
    expect(exactMoneyText(amount, currency)).toBe(expected);
  });

  test('modelMargin: exact amounts, the percentage alone rounded', () => {
    expect(modelMargin('m', 'USD', '0.850000000', '0.0125')).toEqual({
      model: 'm', currency: 'USD', revenue: '0.85', vendorCost: '0.0125', margin: '0.8375', marginPercent: '98.53',
    });
    expect(modelMargin(null, 'USD', '0', '2')).toEqual({ model: null, currency: 'USD', revenue: '0.00', vendorCost: '2.00', margin: '-2.00', marginPercent: null });
  });

  const decimal = fc.tuple(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), fc.integer({ min: 0, max: 9 }))
    .map(([units, scale]) => {
      const negative = units < 0n;
      const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
      const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
      return negative ? `-${text}` : text;
    });

  test('property: within tolerance agrees with the unrounded percentage; a − b + b = a', () => {
    fc.assert(fc.property(decimal, decimal.filter((d) => compareDecimals(d, '0') > 0), fc.integer({ min: 0, max: 100 }), (a, b, tolerance) => {
      expect(compareDecimals(subtractDecimals(subtractDecimals(a, b), subtractDecimals('0', b)), a)).toBe(0);
      // |a − b| / b × 100 ≤ t  ⇔  |a − b| × 100 ≤ t × b; checked with scaled BigInts independently.
      const scale = 10n ** 20n;
      const big = (text: string) => {
        const [w, f = ''] = text.replace('-', '').split('.');
        const v = BigInt(w) * scale + BigInt((f + '0'.repeat(20)).slice(0, 20));
        return text.startsWith('-') ? -v : v;
      };
      const diff = big(a) - big(b);
      expect(withinPercent(a, b, String(tolerance))).toBe((diff < 0n ? -diff : diff) * 100n <= BigInt(tolerance) * big(b));
    }));
  });
});
