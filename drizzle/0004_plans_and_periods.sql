CREATE TABLE "plan_versions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"plan_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"name" text NOT NULL,
	"price_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"interval" text NOT NULL,
	"interval_count" integer NOT NULL,
	"allowance_millis" bigint NOT NULL,
	"rollover" text NOT NULL,
	"rollover_cap_millis" bigint,
	"overdraft_limit_millis" bigint NOT NULL,
	"tier" text,
	"models" jsonb,
	"actions" jsonb,
	"low_credit_thresholds" jsonb NOT NULL,
	"seats" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "plan_versions_interval_check" CHECK ("plan_versions"."interval" in ('DAY', 'WEEK', 'MONTH', 'YEAR')),
	CONSTRAINT "plan_versions_rollover_check" CHECK ("plan_versions"."rollover" in ('NONE', 'CAPPED', 'FULL')),
	CONSTRAINT "plan_versions_amounts_check" CHECK ("plan_versions"."allowance_millis" >= 0 and "plan_versions"."overdraft_limit_millis" >= 0 and "plan_versions"."price_minor" >= 0 and "plan_versions"."interval_count" >= 1 and "plan_versions"."seats" >= 1),
	CONSTRAINT "plan_versions_cap_check" CHECK (("plan_versions"."rollover" = 'CAPPED') = ("plan_versions"."rollover_cap_millis" is not null))
);
--> statement-breakpoint
CREATE TABLE "plans" (
	"id" uuid PRIMARY KEY NOT NULL,
	"code" text NOT NULL,
	"active" boolean NOT NULL,
	"version" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "plans_code_unique" UNIQUE("code")
);
--> statement-breakpoint
CREATE TABLE "subscription_periods" (
	"id" uuid PRIMARY KEY NOT NULL,
	"subscription_id" uuid NOT NULL,
	"account_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"plan_version_id" uuid NOT NULL,
	"allowance_millis" bigint NOT NULL,
	"bucket_id" uuid,
	"transaction_id" uuid,
	"rollover_bucket_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "subscription_periods_kind_check" CHECK ("subscription_periods"."kind" in ('START', 'RENEWAL', 'UPGRADE'))
);
--> statement-breakpoint
CREATE TABLE "subscriptions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"plan_id" uuid NOT NULL,
	"plan_version_id" uuid NOT NULL,
	"status" text NOT NULL,
	"anchor_at" timestamp with time zone NOT NULL,
	"period_index" integer NOT NULL,
	"current_period_start" timestamp with time zone NOT NULL,
	"current_period_end" timestamp with time zone NOT NULL,
	"cancel_at_period_end" boolean DEFAULT false NOT NULL,
	"scheduled_plan_id" uuid,
	"canceled_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "subscriptions_status_check" CHECK ("subscriptions"."status" in ('ACTIVE', 'PAST_DUE', 'CANCELED'))
);
--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "overdraft_limit_own" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "low_credit_thresholds_own" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "plan_code" text;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "plan_tier" text;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "plan_models" jsonb;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "plan_actions" jsonb;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "plan_renews_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "plan_versions" ADD CONSTRAINT "plan_versions_plan_id_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."plans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscription_periods" ADD CONSTRAINT "subscription_periods_subscription_id_subscriptions_id_fk" FOREIGN KEY ("subscription_id") REFERENCES "public"."subscriptions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscription_periods" ADD CONSTRAINT "subscription_periods_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscription_periods" ADD CONSTRAINT "subscription_periods_plan_version_id_plan_versions_id_fk" FOREIGN KEY ("plan_version_id") REFERENCES "public"."plan_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscription_periods" ADD CONSTRAINT "subscription_periods_bucket_id_buckets_id_fk" FOREIGN KEY ("bucket_id") REFERENCES "public"."buckets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscription_periods" ADD CONSTRAINT "subscription_periods_rollover_bucket_id_buckets_id_fk" FOREIGN KEY ("rollover_bucket_id") REFERENCES "public"."buckets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_plan_id_plans_id_fk" FOREIGN KEY ("plan_id") REFERENCES "public"."plans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_plan_version_id_plan_versions_id_fk" FOREIGN KEY ("plan_version_id") REFERENCES "public"."plan_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_scheduled_plan_id_plans_id_fk" FOREIGN KEY ("scheduled_plan_id") REFERENCES "public"."plans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "plan_versions_plan_version_uq" ON "plan_versions" USING btree ("plan_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "subscription_periods_once_uq" ON "subscription_periods" USING btree ("subscription_id","period_start") WHERE kind <> 'UPGRADE';--> statement-breakpoint
CREATE INDEX "subscription_periods_subscription_idx" ON "subscription_periods" USING btree ("subscription_id","period_end");--> statement-breakpoint
CREATE UNIQUE INDEX "subscriptions_account_live_uq" ON "subscriptions" USING btree ("account_id") WHERE status <> 'CANCELED';--> statement-breakpoint
CREATE INDEX "subscriptions_due_idx" ON "subscriptions" USING btree ("current_period_end") WHERE status <> 'CANCELED';--> statement-breakpoint
-- Wallets that already had their own overdraft limit or thresholds keep them when they subscribe to a plan.
UPDATE "wallets" SET "overdraft_limit_own" = true WHERE "overdraft_limit_millis" <> 0;--> statement-breakpoint
UPDATE "wallets" SET "low_credit_thresholds_own" = true WHERE jsonb_array_length("low_credit_thresholds") > 0;
