/** The dashboard's pure display rules (src/dashboard/format.ts): the token in a link, credits as text, free vs purchased. */
import { creditKind, creditsText, daysUntil, groupCredits, signedCredits, summarizeBuckets, tokenFromFragment, transactionDetail, words } from '../../src/dashboard/format';

test.each([
  ['#token=ut1.abc.def', 'ut1.abc.def'],
  ['#token=ck_live%2Bx', 'ck_live+x'],
  ['#view=admin&token=ck_1', 'ck_1'],
  ['token=ck_2', 'ck_2'],
  ['#token=', null],
  ['#token=%E0%A4%A', null], // a malformed escape
  ['#tokens=ck_3', null],
  ['', null],
])('tokenFromFragment(%j) is %j', (hash, token) => {
  expect(tokenFromFragment(hash)).toBe(token);
});

test.each([
  ['0', '0'], ['999', '999'], ['1000', '1,000'], ['1234567.125', '1,234,567.125'], ['-12345.5', '-12,345.5'], ['0.5', '0.5'], ['not a number', 'not a number'],
])('groupCredits(%j) is %j', (credits, text) => {
  expect(groupCredits(credits)).toBe(text);
});

test('credits as words and signed changes', () => {
  expect(creditsText('1')).toBe('1 credit');
  expect(creditsText('2500')).toBe('2,500 credits');
  expect(creditsText('1.5')).toBe('1.5 credits');
  expect(signedCredits('20')).toBe('+20');
  expect(signedCredits('0.125')).toBe('+0.125');
  expect(signedCredits('-2.5')).toBe('-2.5');
  expect(signedCredits('0')).toBe('0');
  expect(words('DEBT_REPAYMENT')).toBe('Debt repayment');
  expect(transactionDetail({ action: 'image.generate', model: 'flux' })).toBe('image.generate · flux');
  expect(transactionDetail({ action: null, model: null, comment: 'welcome' })).toBe('welcome');
  expect(daysUntil('2026-01-03T12:00:00Z', Date.parse('2026-01-01T00:00:00Z'))).toBe(3);
  expect(daysUntil('2025-12-01T00:00:00Z', Date.parse('2026-01-01T00:00:00Z'))).toBe(0);
});

test('PURCHASE buckets are purchased credits; every other source came free', () => {
  expect(['PLAN_ALLOWANCE', 'PROMO', 'ROLLOVER', 'REFUND', 'ADJUSTMENT'].map(creditKind)).toEqual(['free', 'free', 'free', 'free', 'free']);
  expect(creditKind('PURCHASE')).toBe('purchased');
});

test('summarizeBuckets sums exactly, skips empty buckets, and lists the soonest expiry first', () => {
  const bucket = (id: string, source: string, remaining: string, expiresAt: string | null) => ({ id, source, amount: '100', remaining, held: '0', expiresAt });
  const summary = summarizeBuckets([
    bucket('a', 'PURCHASE', '0.1', null),
    bucket('b', 'PLAN_ALLOWANCE', '0.2', '2026-02-01T00:00:00Z'),
    bucket('c', 'PURCHASE', '0.2', '2026-03-01T00:00:00Z'),
    bucket('d', 'PROMO', '0', '2026-01-15T00:00:00Z'),
    bucket('e', 'PROMO', '10.005', '2026-01-20T00:00:00Z'),
  ]);
  expect(summary.free).toBe('10.205'); // 0.2 + 10.005, with no binary-float residue
  expect(summary.purchased).toBe('0.3'); // 0.1 + 0.2 is 0.30000000000000004 in floats
  expect(summary.rows.map((row) => [row.id, row.kind])).toEqual([['e', 'free'], ['b', 'free'], ['c', 'purchased'], ['a', 'purchased']]);
});
