CREATE TABLE "email_outbox" (
	"pos" bigserial NOT NULL,
	"id" uuid PRIMARY KEY NOT NULL,
	"dedupe_key" text NOT NULL,
	"account_id" uuid,
	"to_address" text,
	"subject" text NOT NULL,
	"text_body" text NOT NULL,
	"html_body" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone,
	CONSTRAINT "email_outbox_pos_unique" UNIQUE("pos"),
	CONSTRAINT "email_outbox_dedupe_key_unique" UNIQUE("dedupe_key"),
	CONSTRAINT "email_outbox_status_check" CHECK ("email_outbox"."status" in ('PENDING', 'SENT', 'FAILED', 'NO_RECIPIENT'))
);
--> statement-breakpoint
CREATE TABLE "usage_daily" (
	"account_id" uuid NOT NULL,
	"day" text NOT NULL,
	"action" text DEFAULT '' NOT NULL,
	"model" text DEFAULT '' NOT NULL,
	"credit_kind" text NOT NULL,
	"consumed_millis" bigint DEFAULT 0 NOT NULL,
	"refunded_millis" bigint DEFAULT 0 NOT NULL,
	"transactions" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_daily_account_id_day_action_model_credit_kind_pk" PRIMARY KEY("account_id","day","action","model","credit_kind"),
	CONSTRAINT "usage_daily_kind_check" CHECK ("usage_daily"."credit_kind" in ('FREE', 'PURCHASED', 'DEBT'))
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "email" text;--> statement-breakpoint
ALTER TABLE "alerts" ADD COLUMN "transaction_id" uuid;--> statement-breakpoint
ALTER TABLE "alerts" ADD COLUMN "dedupe_key" text;--> statement-breakpoint
ALTER TABLE "plan_versions" ADD COLUMN "low_credit_threshold_percents" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "low_credit_threshold_percents" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "low_credit_threshold_percents_own" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "low_credit_fired" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "run_out_soon_fired" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "plan_allowance_millis" bigint;--> statement-breakpoint
ALTER TABLE "email_outbox" ADD CONSTRAINT "email_outbox_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_daily" ADD CONSTRAINT "usage_daily_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "email_outbox_due_idx" ON "email_outbox" USING btree ("next_attempt_at") WHERE status = 'PENDING';--> statement-breakpoint
CREATE INDEX "accounts_name_lower_idx" ON "accounts" USING btree (lower("name") text_pattern_ops);--> statement-breakpoint
CREATE INDEX "accounts_email_lower_idx" ON "accounts" USING btree (lower("email"));--> statement-breakpoint
CREATE INDEX "alerts_transaction_idx" ON "alerts" USING btree ("transaction_id") WHERE transaction_id is not null;--> statement-breakpoint
CREATE INDEX "ledger_transactions_failed_pos_idx" ON "ledger_transactions" USING btree ("pos") WHERE status = 'FAILED';--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_dedupe_key_unique" UNIQUE("dedupe_key");--> statement-breakpoint
-- Wallets already on a plan: percent levels are of the current period's allowance.
UPDATE "wallets" SET "plan_allowance_millis" = pv."allowance_millis" FROM "subscriptions" s JOIN "plan_versions" pv ON pv."id" = s."plan_version_id" WHERE s."account_id" = "wallets"."account_id" AND s."status" <> 'CANCELED' AND "wallets"."plan_code" IS NOT NULL;
