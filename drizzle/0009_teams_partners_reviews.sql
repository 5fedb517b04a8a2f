CREATE TABLE "member_usage_daily" (
	"account_id" uuid NOT NULL,
	"day" text NOT NULL,
	"member_id" uuid NOT NULL,
	"consumed_millis" bigint DEFAULT 0 NOT NULL,
	"refunded_millis" bigint DEFAULT 0 NOT NULL,
	"transactions" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "member_usage_daily_account_id_day_member_id_pk" PRIMARY KEY("account_id","day","member_id")
);
--> statement-breakpoint
CREATE TABLE "member_usage_quarterly" (
	"account_id" uuid NOT NULL,
	"day" text NOT NULL,
	"quarter" integer NOT NULL,
	"member_id" uuid NOT NULL,
	"consumed_millis" bigint DEFAULT 0 NOT NULL,
	"refunded_millis" bigint DEFAULT 0 NOT NULL,
	"transactions" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "member_usage_quarterly_account_id_day_quarter_member_id_pk" PRIMARY KEY("account_id","day","quarter","member_id"),
	CONSTRAINT "member_usage_quarterly_quarter_check" CHECK ("member_usage_quarterly"."quarter" between 0 and 95)
);
--> statement-breakpoint
CREATE TABLE "reviews" (
	"pos" bigserial NOT NULL,
	"id" uuid PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"status" text NOT NULL,
	"rule" text NOT NULL,
	"details" jsonb NOT NULL,
	"transaction_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"resolved_at" timestamp with time zone,
	"resolved_by" text,
	"comment" text,
	CONSTRAINT "reviews_pos_unique" UNIQUE("pos"),
	CONSTRAINT "reviews_status_check" CHECK ("reviews"."status" in ('OPEN', 'APPROVED', 'REJECTED')),
	CONSTRAINT "reviews_rule_check" CHECK ("reviews"."rule" in ('VELOCITY', 'FINGERPRINT'))
);
--> statement-breakpoint
CREATE TABLE "team_members" (
	"team_id" uuid NOT NULL,
	"account_id" uuid NOT NULL,
	"role" text NOT NULL,
	"budget_millis" bigint,
	"budget_period_key" text DEFAULT '' NOT NULL,
	"budget_used_millis" bigint DEFAULT 0 NOT NULL,
	"budget_alerted" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "team_members_team_id_account_id_pk" PRIMARY KEY("team_id","account_id"),
	CONSTRAINT "team_members_role_check" CHECK ("team_members"."role" in ('OWNER', 'ADMIN', 'MEMBER')),
	CONSTRAINT "team_members_budget_check" CHECK (("team_members"."budget_millis" is null or "team_members"."budget_millis" >= 0) and "team_members"."budget_used_millis" >= 0)
);
--> statement-breakpoint
ALTER TABLE "admin_alerts" DROP CONSTRAINT "admin_alerts_kind_check";--> statement-breakpoint
ALTER TABLE "alerts" DROP CONSTRAINT "alerts_kind_check";--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "partner" text;--> statement-breakpoint
ALTER TABLE "alerts" ADD COLUMN "member_id" uuid;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "partner" text;--> statement-breakpoint
ALTER TABLE "holds" ADD COLUMN "member_id" uuid;--> statement-breakpoint
ALTER TABLE "ledger_transactions" ADD COLUMN "member_id" uuid;--> statement-breakpoint
ALTER TABLE "plan_versions" ADD COLUMN "velocity_multiplier" integer;--> statement-breakpoint
ALTER TABLE "plan_versions" ADD COLUMN "velocity_floor_millis" bigint;--> statement-breakpoint
ALTER TABLE "plan_versions" ADD COLUMN "fingerprint_repeats" integer;--> statement-breakpoint
ALTER TABLE "plan_versions" ADD COLUMN "fingerprint_window_minutes" integer;--> statement-breakpoint
ALTER TABLE "plan_versions" ADD COLUMN "requests_per_minute" integer;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "review_id" uuid;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "velocity_hour_start" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "velocity_hour_millis" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "velocity_baseline_millis" bigint;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "velocity_baseline_hour" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "wallets" ADD COLUMN "recent_fingerprints" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "member_usage_daily" ADD CONSTRAINT "member_usage_daily_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "member_usage_quarterly" ADD CONSTRAINT "member_usage_quarterly_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reviews" ADD CONSTRAINT "reviews_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "team_members" ADD CONSTRAINT "team_members_team_id_accounts_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "team_members" ADD CONSTRAINT "team_members_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "reviews_account_open_uq" ON "reviews" USING btree ("account_id") WHERE status = 'OPEN';--> statement-breakpoint
CREATE INDEX "reviews_status_pos_idx" ON "reviews" USING btree ("status","pos");--> statement-breakpoint
CREATE UNIQUE INDEX "team_members_account_uq" ON "team_members" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "accounts_partner_idx" ON "accounts" USING btree ("partner") WHERE partner is not null;--> statement-breakpoint
CREATE INDEX "holds_member_active_idx" ON "holds" USING btree ("account_id","member_id") WHERE status = 'ACTIVE' and member_id is not null;--> statement-breakpoint
ALTER TABLE "admin_alerts" ADD CONSTRAINT "admin_alerts_kind_check" CHECK ("admin_alerts"."kind" in ('VENDOR_VARIANCE', 'REVIEW_HOLD'));--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_kind_check" CHECK ("alerts"."kind" in ('LOW_BALANCE', 'DEPLETED', 'RUN_OUT_SOON', 'CREDITS_EXPIRING', 'AUTO_TOP_UP_FAILED', 'PAYMENT_FAILED', 'PLAN_DOWNGRADED', 'MEMBER_BUDGET'));