/**
 * POST /webhooks/payments: the provider's signed events (format in API.md). The raw body is what is
 * signed, so it is read as bytes and verified before it is parsed. Answers: 400 (and nothing written)
 * for a bad or missing signature, a stale or future timestamp, or a body that is not an event; 200 for
 * every verified event, including those recorded for review, so the provider stops retrying; 503 when
 * the database is away (the provider retries later).
 */
import express from 'express';
import type { Clock } from '../../shared/clock';
import { logger } from '../../shared/logger';
import { AppError, ErrorCode } from '../../shared/errors';
import { SIGNATURE_HEADER, verifySignature } from './signature';
import type { PaymentEvent, PurchasesService } from './purchases.service';

export const WEBHOOK_BODY_LIMIT_BYTES = 64 * 1024;
const EVENT_ID_LENGTH_MAX = 200;

export function webhookRoute(deps: {
  purchases: PurchasesService; clock: Clock; secret: string; provider: string;
  /** Told each delivery's outcome (metrics): the event's, or "rejected" (400) or "error" (5xx). */
  onOutcome?: (outcome: string) => void;
}): express.Router {
  const router = express.Router();
  router.post('/', express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT_BYTES }), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const check = verifySignature(req.get(SIGNATURE_HEADER), raw, deps.secret, Math.floor(deps.clock.now().getTime() / 1000));
    if (!check.ok) {
      deps.onOutcome?.('rejected');
      res.status(400).json({ error: check.reason });
      return;
    }
    const event = parseEvent(raw);
    if (typeof event === 'string') {
      deps.onOutcome?.('rejected');
      res.status(400).json({ error: event });
      return;
    }
    try {
      const result = await deps.purchases.applyEvent(deps.provider, event);
      deps.onOutcome?.(result.outcome);
      res.status(200).json({ received: true, ...result });
    } catch (error) {
      const unavailable = error instanceof AppError && error.code === ErrorCode.SERVICE_UNAVAILABLE;
      deps.onOutcome?.('error');
      if (!unavailable) logger.error('payment webhook failed', { eventId: event.id, error: error instanceof Error ? error.stack : String(error) });
      res.status(unavailable ? 503 : 500).json({ error: 'the event could not be recorded now; retry later' });
    }
  });
  return router;
}

/** The event, or why the body is not one. */
function parseEvent(raw: Buffer): PaymentEvent | string {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return 'the body is not JSON';
  }
  const b = body as { id?: unknown; type?: unknown; data?: { purchaseId?: unknown; amount?: unknown; currency?: unknown } } | null;
  if (!b || typeof b !== 'object' || Array.isArray(b)) return 'the body is not an event object';
  if (typeof b.id !== 'string' || !b.id || b.id.length > EVENT_ID_LENGTH_MAX) return `id must be a string of 1 to ${EVENT_ID_LENGTH_MAX} characters`;
  if (typeof b.type !== 'string' || !b.type || b.type.length > 100) return 'type must be a string';
  const data = b.data && typeof b.data === 'object' ? b.data : {};
  const text = (value: unknown) => (typeof value === 'string' && value.length <= 200 ? value : null);
  return { id: b.id, type: b.type, purchaseId: text(data.purchaseId), amount: text(data.amount), currency: text(data.currency), payload: body };
}
