/**
 * The payment webhook's signature (API.md): `Credits-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
 * "<t>.<raw body>")>`. Several v1 values may be sent (a secret being rotated): one match is enough.
 * Compared in constant time; a timestamp more than the tolerance away from now, in either direction, is refused.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'credits-signature';
export const SIGNATURE_TOLERANCE_SECONDS = 300;
const HEADER_LENGTH_MAX = 1000;

export function signPayload(secret: string, timestampSeconds: number, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(rawBody).digest('hex');
}

/** The header a sender puts on a webhook. */
export function signatureHeader(secret: string, timestampSeconds: number, rawBody: string | Buffer): string {
  return `t=${timestampSeconds},v1=${signPayload(secret, timestampSeconds, rawBody)}`;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

export function verifySignature(header: string | undefined, rawBody: Buffer, secret: string, nowSeconds: number, toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing Credits-Signature header' };
  if (header.length > HEADER_LENGTH_MAX) return { ok: false, reason: 'malformed Credits-Signature header' };
  let timestamp: number | null = null;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const [key, value, ...rest] = part.trim().split('=');
    if (rest.length > 0 || value === undefined) return { ok: false, reason: 'malformed Credits-Signature header' };
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || timestamp !== null) return { ok: false, reason: 'malformed Credits-Signature header' };
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/.test(value)) return { ok: false, reason: 'malformed Credits-Signature header' };
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestamp === null || signatures.length === 0) return { ok: false, reason: 'malformed Credits-Signature header: t and v1 are required' };
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return { ok: false, reason: `timestamp more than ${toleranceSeconds} s from the server's clock` };
  const expected = Buffer.from(signPayload(secret, timestamp, rawBody), 'hex');
  // Every candidate is compared (no early exit), each in constant time.
  let matched = false;
  for (const given of signatures) matched = timingSafeEqual(expected, given) || matched;
  return matched ? { ok: true } : { ok: false, reason: 'signature does not match' };
}
