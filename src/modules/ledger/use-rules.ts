/**
 * Rules other modules apply to every use of a wallet's credits (team member budgets, velocity and
 * fingerprint review holds), attached to the ledger without the ledger importing them. They run inside
 * the operation's database transaction, under the wallet lock, so what they decide is atomic with the
 * charge: one run per database transaction —
 *
 * - `load`: reads what the transaction's uses will need, for all of them at once (a coalesced batch of
 *   charges costs one statement per rule, or none);
 * - `check`: decides one use, in order, before the wallet pays for it; a refusal is recorded like any
 *   other (a FAILED transaction) and every run hears of it through `refused`;
 * - `record`: counts a use that was posted (never one that was refused);
 * - `flush`: writes what was counted, before commit; returns alerts to publish after commit.
 */
import type { Tx } from '../../db/client';
import type { AppError } from '../../shared/errors';
import type { Millis } from '../../shared/credits';
import type { HoldRow, TransactionRow } from './ledger.repo';
import type { WalletSession } from './wallet-session';

/** A use of credits being decided: a charge, a hold, a capture closing a hold, or a refund giving credits back. */
export interface CreditUse {
  kind: 'CHARGE' | 'HOLD' | 'CAPTURE' | 'REFUND';
  /** CHARGE, HOLD: the amount asked; CAPTURE: the amount captured; REFUND: the amount given back. */
  amountMillis: Millis;
  /** A team wallet's member the use is for (CAPTURE: the hold's; REFUND: the original charge's). */
  memberId: string | null;
  action: string | null;
  model: string | null;
  params: unknown;
  /** The client's generation fingerprint, when it sent one (rules may derive one from action, model and params). */
  fingerprint: string | null;
  /** CAPTURE: the hold it closes. REFUND: absent. */
  hold?: HoldRow;
  /** REFUND: the charge or capture refunded. */
  original?: TransactionRow;
}

/** What a database transaction is about to decide, for `load`. */
export interface PlannedUse {
  accountId: string;
  memberId: string | null;
}

export interface UseRulesRun {
  /** May be called more than once in a run (a capture, a refund): loads what is not loaded yet. */
  load(uses: readonly PlannedUse[]): Promise<void>;
  check(session: WalletSession, use: CreditUse): Promise<AppError | null>;
  refused?(session: WalletSession, use: CreditUse, error: AppError, failedTransactionId: string): void;
  record(session: WalletSession, use: CreditUse, posted: TransactionRow): void;
  flush(): Promise<readonly unknown[]>;
}

export interface UseRules {
  begin(tx: Tx, now: Date): UseRulesRun;
}

/** The attached rules' runs of one database transaction, applied in the order they were attached. */
export class UseRuleRuns {
  private constructor(private readonly runs: readonly UseRulesRun[]) {}

  static begin(rules: readonly UseRules[], tx: Tx, now: Date): UseRuleRuns {
    return new UseRuleRuns(rules.map((r) => r.begin(tx, now)));
  }

  async load(uses: readonly PlannedUse[]): Promise<void> {
    if (uses.length === 0) return;
    for (const run of this.runs) await run.load(uses);
  }

  /** The first refusal of the rules, or null. */
  async check(session: WalletSession, use: CreditUse): Promise<AppError | null> {
    for (const run of this.runs) {
      const refusal = await run.check(session, use);
      if (refusal) return refusal;
    }
    return null;
  }

  refused(session: WalletSession, use: CreditUse, error: AppError, failedTransactionId: string): void {
    for (const run of this.runs) run.refused?.(session, use, error, failedTransactionId);
  }

  record(session: WalletSession, use: CreditUse, posted: TransactionRow): void {
    for (const run of this.runs) run.record(session, use, posted);
  }

  async flush(): Promise<readonly unknown[]> {
    const alerts: unknown[] = [];
    for (const run of this.runs) alerts.push(...await run.flush());
    return alerts;
  }
}
