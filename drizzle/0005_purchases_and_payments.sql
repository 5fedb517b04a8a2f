CREATE TABLE "alerts" (
	"pos" bigserial NOT NULL,
	"id" uuid PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"threshold_millis" bigint,
	"available_millis" bigint NOT NULL,
	"message" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"read_at" timestamp with time zone,
	CONSTRAINT "alerts_pos_unique" UNIQUE("pos"),
	CONSTRAINT "alerts_kind_check" CHECK ("alerts"."kind" in ('LOW_BALANCE', 'DEPLETED', 'RUN_OUT_SOON', 'CREDITS_EXPIRING', 'AUTO_TOP_UP_FAILED', 'PAYMENT_FAILED', 'PLAN_DOWNGRADED'))
);
--> statement-breakpoint
CREATE TABLE "auto_top_ups" (
	"account_id" uuid PRIMARY KEY NOT NULL,
	"enabled" boolean NOT NULL,
	"below_millis" bigint NOT NULL,
	"pack_id" uuid,
	"target_balance_millis" bigint,
	"max_per_month" integer NOT NULL,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"disabled_reason" text,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "auto_top_ups_target_check" CHECK (("auto_top_ups"."pack_id" is null) <> ("auto_top_ups"."target_balance_millis" is null))
);
--> statement-breakpoint
CREATE TABLE "credit_packs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"code" text NOT NULL,
	"name" text NOT NULL,
	"credits_millis" bigint NOT NULL,
	"price_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"expires_after_days" integer,
	"active" boolean NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "credit_packs_code_unique" UNIQUE("code"),
	CONSTRAINT "credit_packs_amounts_check" CHECK ("credit_packs"."credits_millis" > 0 and "credit_packs"."price_minor" >= 0)
);
--> statement-breakpoint
CREATE TABLE "credit_price_tables" (
	"id" uuid PRIMARY KEY NOT NULL,
	"version" integer NOT NULL,
	"currency" text NOT NULL,
	"minimum_millis" bigint NOT NULL,
	"maximum_millis" bigint NOT NULL,
	"tiers" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "credit_price_tables_version_unique" UNIQUE("version")
);
--> statement-breakpoint
CREATE TABLE "payment_events" (
	"seq" bigserial NOT NULL,
	"provider" text NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"purchase_id" text,
	"outcome" text NOT NULL,
	"reason" text,
	"payload" jsonb NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	CONSTRAINT "payment_events_provider_event_id_pk" PRIMARY KEY("provider","event_id"),
	CONSTRAINT "payment_events_seq_unique" UNIQUE("seq"),
	CONSTRAINT "payment_events_outcome_check" CHECK ("payment_events"."outcome" in ('APPLIED', 'IGNORED', 'REVIEW'))
);
--> statement-breakpoint
CREATE TABLE "purchases" (
	"pos" bigserial NOT NULL,
	"id" uuid PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"pack_id" uuid,
	"credits_millis" bigint NOT NULL,
	"price_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"expires_after_days" integer,
	"status" text NOT NULL,
	"provider" text NOT NULL,
	"checkout_url" text,
	"subscription_id" uuid,
	"period_start" timestamp with time zone,
	"requested_at" timestamp with time zone,
	"transaction_id" uuid,
	"reversal_transaction_id" uuid,
	"failure_reason" text,
	"idempotency_scope" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"request_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "purchases_pos_unique" UNIQUE("pos"),
	CONSTRAINT "purchases_status_check" CHECK ("purchases"."status" in ('PENDING', 'SUCCEEDED', 'FAILED', 'CANCELED')),
	CONSTRAINT "purchases_kind_check" CHECK ("purchases"."kind" in ('PACK', 'CUSTOM', 'AUTO_TOP_UP', 'PLAN_PERIOD')),
	CONSTRAINT "purchases_amounts_check" CHECK ("purchases"."credits_millis" >= 0 and "purchases"."price_minor" >= 0)
);
--> statement-breakpoint
ALTER TABLE "subscription_periods" DROP CONSTRAINT "subscription_periods_kind_check";--> statement-breakpoint
DROP INDEX "subscription_periods_once_uq";--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "past_due_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "grace_ends_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "next_payment_retry_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "payment_retries" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "withheld_millis" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auto_top_ups" ADD CONSTRAINT "auto_top_ups_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auto_top_ups" ADD CONSTRAINT "auto_top_ups_pack_id_credit_packs_id_fk" FOREIGN KEY ("pack_id") REFERENCES "public"."credit_packs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_pack_id_credit_packs_id_fk" FOREIGN KEY ("pack_id") REFERENCES "public"."credit_packs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_subscription_id_subscriptions_id_fk" FOREIGN KEY ("subscription_id") REFERENCES "public"."subscriptions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alerts_account_pos_idx" ON "alerts" USING btree ("account_id","pos");--> statement-breakpoint
CREATE INDEX "payment_events_review_idx" ON "payment_events" USING btree ("received_at") WHERE outcome = 'REVIEW';--> statement-breakpoint
CREATE UNIQUE INDEX "purchases_idempotency_uq" ON "purchases" USING btree ("idempotency_scope","idempotency_key");--> statement-breakpoint
CREATE INDEX "purchases_account_pos_idx" ON "purchases" USING btree ("account_id","pos");--> statement-breakpoint
CREATE INDEX "purchases_pending_idx" ON "purchases" USING btree ("expires_at") WHERE status = 'PENDING';--> statement-breakpoint
CREATE UNIQUE INDEX "purchases_auto_top_up_pending_uq" ON "purchases" USING btree ("account_id") WHERE status = 'PENDING' and kind = 'AUTO_TOP_UP';--> statement-breakpoint
CREATE INDEX "subscriptions_grace_idx" ON "subscriptions" USING btree ("grace_ends_at") WHERE status = 'PAST_DUE';--> statement-breakpoint
CREATE INDEX "subscriptions_retry_idx" ON "subscriptions" USING btree ("next_payment_retry_at") WHERE status = 'PAST_DUE';--> statement-breakpoint
CREATE UNIQUE INDEX "subscription_periods_once_uq" ON "subscription_periods" USING btree ("subscription_id","period_start") WHERE kind in ('START', 'RENEWAL');--> statement-breakpoint
ALTER TABLE "subscription_periods" ADD CONSTRAINT "subscription_periods_kind_check" CHECK ("subscription_periods"."kind" in ('START', 'RENEWAL', 'UPGRADE', 'RESTORED'));