ALTER TABLE "accounts" ADD CONSTRAINT "accounts_kind_check" CHECK ("accounts"."kind" in ('USER', 'TEAM'));--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_role_check" CHECK ("api_keys"."role" in ('ADMIN', 'SERVICE', 'READONLY'));--> statement-breakpoint
ALTER TABLE "buckets" ADD CONSTRAINT "buckets_remaining_check" CHECK ("buckets"."remaining_millis" between 0 and "buckets"."amount_millis");--> statement-breakpoint
ALTER TABLE "buckets" ADD CONSTRAINT "buckets_source_check" CHECK ("buckets"."source" in ('PLAN_ALLOWANCE', 'PURCHASE', 'PROMO', 'ROLLOVER', 'REFUND', 'ADJUSTMENT'));--> statement-breakpoint
ALTER TABLE "holds" ADD CONSTRAINT "holds_status_check" CHECK ("holds"."status" in ('ACTIVE', 'CAPTURED', 'RELEASED', 'EXPIRED'));--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_kind_check" CHECK ("ledger_entries"."kind" in ('BUCKET', 'DEBT'));--> statement-breakpoint
ALTER TABLE "ledger_transactions" ADD CONSTRAINT "ledger_transactions_type_check" CHECK ("ledger_transactions"."type" in ('GRANT', 'PURCHASE', 'CHARGE', 'HOLD', 'CAPTURE', 'RELEASE', 'REFUND', 'EXPIRE', 'ROLLOVER', 'DEBT_REPAYMENT', 'ADJUSTMENT', 'REVERSAL'));--> statement-breakpoint
ALTER TABLE "ledger_transactions" ADD CONSTRAINT "ledger_transactions_status_check" CHECK ("ledger_transactions"."status" in ('SUCCEEDED', 'FAILED'));--> statement-breakpoint
ALTER TABLE "rate_cards" ADD CONSTRAINT "rate_cards_status_check" CHECK ("rate_cards"."status" in ('DRAFT', 'PUBLISHED'));--> statement-breakpoint
ALTER TABLE "wallets" ADD CONSTRAINT "wallets_debt_check" CHECK ("wallets"."debt_millis" >= 0);