/**
 * The payment webhook's signature (src/modules/purchases/signature.ts, format in API.md):
 * `Credits-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. Valid,
 * wrong secret, missing, malformed, too old, too far in the future (refused too, unlike Stripe's
 * own check), a body altered after signing, and a secret being rotated (several v1 values).
 */
import { createHmac } from 'node:crypto';
import { SIGNATURE_TOLERANCE_SECONDS, signatureHeader, signPayload, verifySignature } from '../../src/modules/purchases/signature';

const SECRET = 'whsec_unit_test_secret';
const OTHER_SECRET = 'whsec_another_secret';
const NOW = 1_717_243_200; // 2024-06-01T12:00:00Z, in seconds
const BODY = Buffer.from(JSON.stringify({ id: 'evt_1', type: 'payment.succeeded', data: { purchaseId: 'p1', amount: '25.00', currency: 'USD' } }));

/** The signature as API.md defines it, computed here without the module. */
const hmac = (secret: string, t: number, body: Buffer | string) => createHmac('sha256', secret).update(`${t}.${body.toString()}`).digest('hex');
const v1 = (t = NOW, secret = SECRET, body: Buffer | string = BODY) => hmac(secret, t, body);

const verify = (header: string | undefined, body: Buffer = BODY, now = NOW) => verifySignature(header, body, SECRET, now);

test('the tolerance is 300 s', () => {
  expect(SIGNATURE_TOLERANCE_SECONDS).toBe(300);
});

test('signPayload and signatureHeader follow the documented format', () => {
  expect(signPayload(SECRET, NOW, BODY)).toBe(v1());
  expect(signPayload(SECRET, NOW, BODY.toString())).toBe(v1());
  expect(signatureHeader(SECRET, NOW, BODY)).toBe(`t=${NOW},v1=${v1()}`);
});

describe('accepted', () => {
  test.each<[string, string]>([
    ['a valid signature', `t=${NOW},v1=${v1()}`],
    ['v1 before t', `v1=${v1()},t=${NOW}`],
    ['spaces around the parts', ` t=${NOW} , v1=${v1()} `],
    ['another scheme beside v1 is ignored', `t=${NOW},v0=deadbeef,v1=${v1()}`],
    ['rotation: two v1 values, the second matches', `t=${NOW},v1=${v1(NOW, OTHER_SECRET)},v1=${v1()}`],
    ['rotation: two v1 values, the first matches', `t=${NOW},v1=${v1()},v1=${v1(NOW, OTHER_SECRET)}`],
    ['signed 299 s ago', `t=${NOW - 299},v1=${v1(NOW - 299)}`],
    ['signed 299 s in the future', `t=${NOW + 299},v1=${v1(NOW + 299)}`],
    ['signed exactly 300 s ago', `t=${NOW - 300},v1=${v1(NOW - 300)}`],
    ['signed exactly 300 s in the future', `t=${NOW + 300},v1=${v1(NOW + 300)}`],
  ])('%s', (_name, header) => {
    expect(verify(header)).toEqual({ ok: true });
  });

  test('an empty body can be signed too', () => {
    expect(verify(`t=${NOW},v1=${v1(NOW, SECRET, '')}`, Buffer.alloc(0))).toEqual({ ok: true });
  });

  test('the body is taken as raw bytes (non-ASCII, exactly as sent)', () => {
    const body = Buffer.from('{"id":"évt ☃","type":"payment.succeeded"}');
    expect(verify(signatureHeader(SECRET, NOW, body), body)).toEqual({ ok: true });
  });
});

describe('refused', () => {
  const malformed = /^malformed Credits-Signature header/;
  test.each<[string, string | undefined, RegExp]>([
    ['no header', undefined, /^missing Credits-Signature header$/],
    ['an empty header', '', /^missing Credits-Signature header$/],
    ['signed with another secret', `t=${NOW},v1=${v1(NOW, OTHER_SECRET)}`, /^signature does not match$/],
    ['no t', `v1=${v1()}`, malformed],
    ['no v1', `t=${NOW}`, malformed],
    ['only another scheme', `t=${NOW},v0=${v1()}`, malformed],
    ['v1 not hex', `t=${NOW},v1=${'z'.repeat(64)}`, malformed],
    ['v1 in uppercase hex', `t=${NOW},v1=${v1().toUpperCase()}`, malformed],
    ['v1 too short', `t=${NOW},v1=${v1().slice(0, 62)}`, malformed],
    ['v1 too long', `t=${NOW},v1=${v1()}00`, malformed],
    ['v1 empty', `t=${NOW},v1=`, malformed],
    ['a duplicate t', `t=${NOW},t=${NOW},v1=${v1()}`, malformed],
    ['a duplicate t that differs', `t=${NOW},t=${NOW - 1},v1=${v1()}`, malformed],
    ['t not a number', `t=now,v1=${v1()}`, malformed],
    ['t negative', `t=-${NOW},v1=${v1()}`, malformed],
    ['t with a fraction', `t=${NOW}.5,v1=${v1()}`, malformed],
    ['t of 13 digits', `t=1${'0'.repeat(12)},v1=${v1()}`, malformed],
    ['a part without "="', `t=${NOW},v1=${v1()},garbage`, malformed],
    ['a part with two "="', `t=${NOW}=1,v1=${v1()}`, malformed],
    ['garbage', 'garbage', malformed],
    ['separators only', ',,,', malformed],
    ['"=" only', '=', malformed],
    ['semicolons instead of commas', `t=${NOW};v1=${v1()}`, malformed],
    ['a header longer than 1000 characters', `t=${NOW},${Array.from({ length: 16 }, () => `v1=${v1()}`).join(',')}`, malformed],
    ['signed 301 s ago', `t=${NOW - 301},v1=${v1(NOW - 301)}`, /^timestamp more than 300 s/],
    ['signed 301 s in the future', `t=${NOW + 301},v1=${v1(NOW + 301)}`, /^timestamp more than 300 s/],
    ['signed a day ago', `t=${NOW - 86_400},v1=${v1(NOW - 86_400)}`, /^timestamp more than 300 s/],
    ['t=0', `t=0,v1=${v1(0)}`, /^timestamp more than 300 s/],
    ['a signature of another timestamp', `t=${NOW},v1=${v1(NOW - 1)}`, /^signature does not match$/],
    ['rotation: two v1 values, neither matches', `t=${NOW},v1=${v1(NOW, OTHER_SECRET)},v1=${v1(NOW, 'third')}`, /^signature does not match$/],
  ])('%s', (_name, header, reason) => {
    const check = verify(header);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toMatch(reason);
  });

  test('a body altered after signing', () => {
    const header = signatureHeader(SECRET, NOW, BODY);
    const altered = Buffer.from(BODY.toString().replace('25.00', '2500.00'));
    expect(verify(header, altered)).toEqual({ ok: false, reason: 'signature does not match' });
    // One byte more, one byte less, the same bytes re-serialized with spaces: all refused.
    expect(verify(header, Buffer.concat([BODY, Buffer.from(' ')])).ok).toBe(false);
    expect(verify(header, BODY.subarray(0, BODY.length - 1)).ok).toBe(false);
    expect(verify(header, Buffer.from(JSON.stringify(JSON.parse(BODY.toString()), null, 1))).ok).toBe(false);
    // The untouched body still passes.
    expect(verify(header, BODY)).toEqual({ ok: true });
  });

  test('the timestamp is part of what is signed: moving t refuses the signature', () => {
    expect(verify(`t=${NOW + 1},v1=${v1(NOW)}`).ok).toBe(false);
  });

  test('the tolerance can be given', () => {
    const header = `t=${NOW - 10},v1=${v1(NOW - 10)}`;
    expect(verifySignature(header, BODY, SECRET, NOW, 10)).toEqual({ ok: true });
    expect(verifySignature(header, BODY, SECRET, NOW, 9).ok).toBe(false);
  });
});
