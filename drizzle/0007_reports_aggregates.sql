-- usage_daily takes the shape of every flow (and the plan); it is rebuilt from the ledger below, with the new tables.
DROP TABLE "usage_daily";--> statement-breakpoint
CREATE TABLE "usage_daily" (
	"account_id" uuid NOT NULL,
	"day" text NOT NULL,
	"plan_code" text DEFAULT '' NOT NULL,
	"action" text DEFAULT '' NOT NULL,
	"model" text DEFAULT '' NOT NULL,
	"consumed_millis" bigint DEFAULT 0 NOT NULL,
	"consumed_free_millis" bigint DEFAULT 0 NOT NULL,
	"consumed_purchased_millis" bigint DEFAULT 0 NOT NULL,
	"transactions" integer DEFAULT 0 NOT NULL,
	"refunded_millis" bigint DEFAULT 0 NOT NULL,
	"allocated_millis" bigint DEFAULT 0 NOT NULL,
	"purchased_millis" bigint DEFAULT 0 NOT NULL,
	"granted_millis" bigint DEFAULT 0 NOT NULL,
	"expired_millis" bigint DEFAULT 0 NOT NULL,
	"reversed_millis" bigint DEFAULT 0 NOT NULL,
	"carried_forward_millis" bigint DEFAULT 0 NOT NULL,
	"balance_change_millis" bigint DEFAULT 0 NOT NULL,
	"debt_change_millis" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_daily_account_id_day_plan_code_action_model_pk" PRIMARY KEY("account_id","day","plan_code","action","model")
);
--> statement-breakpoint
CREATE TABLE "admin_alerts" (
	"pos" bigserial NOT NULL,
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"message" text NOT NULL,
	"subject_id" uuid,
	"dedupe_key" text,
	"created_at" timestamp with time zone NOT NULL,
	"read_at" timestamp with time zone,
	CONSTRAINT "admin_alerts_pos_unique" UNIQUE("pos"),
	CONSTRAINT "admin_alerts_dedupe_key_unique" UNIQUE("dedupe_key"),
	CONSTRAINT "admin_alerts_kind_check" CHECK ("admin_alerts"."kind" in ('VENDOR_VARIANCE'))
);
--> statement-breakpoint
CREATE TABLE "balance_daily" (
	"account_id" uuid NOT NULL,
	"day" text NOT NULL,
	"sequence" integer NOT NULL,
	"balance_after_millis" bigint NOT NULL,
	"debt_after_millis" bigint NOT NULL,
	CONSTRAINT "balance_daily_account_id_day_pk" PRIMARY KEY("account_id","day")
);
--> statement-breakpoint
CREATE TABLE "failures_daily" (
	"account_id" uuid NOT NULL,
	"day" text NOT NULL,
	"failure_code" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "failures_daily_account_id_day_failure_code_pk" PRIMARY KEY("account_id","day","failure_code")
);
--> statement-breakpoint
CREATE TABLE "model_costs_daily" (
	"account_id" uuid NOT NULL,
	"day" text NOT NULL,
	"vendor" text DEFAULT '' NOT NULL,
	"model" text DEFAULT '' NOT NULL,
	"currency" text NOT NULL,
	"revenue" numeric DEFAULT '0' NOT NULL,
	"vendor_cost" numeric DEFAULT '0' NOT NULL,
	"vendor_units" numeric DEFAULT '0' NOT NULL,
	"vendor_charges" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "model_costs_daily_account_id_day_vendor_model_currency_pk" PRIMARY KEY("account_id","day","vendor","model","currency")
);
--> statement-breakpoint
CREATE TABLE "usage_quarterly" (
	"account_id" uuid NOT NULL,
	"day" text NOT NULL,
	"quarter" integer NOT NULL,
	"action" text DEFAULT '' NOT NULL,
	"model" text DEFAULT '' NOT NULL,
	"consumed_millis" bigint DEFAULT 0 NOT NULL,
	"consumed_free_millis" bigint DEFAULT 0 NOT NULL,
	"consumed_purchased_millis" bigint DEFAULT 0 NOT NULL,
	"transactions" integer DEFAULT 0 NOT NULL,
	"refunded_millis" bigint DEFAULT 0 NOT NULL,
	"allocated_millis" bigint DEFAULT 0 NOT NULL,
	"purchased_millis" bigint DEFAULT 0 NOT NULL,
	"granted_millis" bigint DEFAULT 0 NOT NULL,
	"expired_millis" bigint DEFAULT 0 NOT NULL,
	"reversed_millis" bigint DEFAULT 0 NOT NULL,
	"carried_forward_millis" bigint DEFAULT 0 NOT NULL,
	"balance_change_millis" bigint DEFAULT 0 NOT NULL,
	"debt_change_millis" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_quarterly_account_id_day_quarter_action_model_pk" PRIMARY KEY("account_id","day","quarter","action","model"),
	CONSTRAINT "usage_quarterly_quarter_check" CHECK ("usage_quarterly"."quarter" between 0 and 95)
);
--> statement-breakpoint
CREATE TABLE "vendor_reconciliation_rows" (
	"reconciliation_id" uuid NOT NULL,
	"ord" integer NOT NULL,
	"model" text NOT NULL,
	"status" text NOT NULL,
	"invoice_cost" numeric,
	"ledger_cost" numeric,
	"invoice_units" numeric,
	"ledger_units" numeric,
	"variance_percent" numeric,
	"flagged" boolean NOT NULL,
	CONSTRAINT "vendor_reconciliation_rows_reconciliation_id_ord_pk" PRIMARY KEY("reconciliation_id","ord"),
	CONSTRAINT "vendor_reconciliation_rows_status_check" CHECK ("vendor_reconciliation_rows"."status" in ('MATCHED', 'MISMATCH', 'INVOICE_ONLY', 'LEDGER_ONLY'))
);
--> statement-breakpoint
CREATE TABLE "vendor_reconciliations" (
	"pos" bigserial NOT NULL,
	"id" uuid PRIMARY KEY NOT NULL,
	"vendor" text NOT NULL,
	"period_from" timestamp with time zone NOT NULL,
	"period_to" timestamp with time zone NOT NULL,
	"currency" text NOT NULL,
	"tolerance_percent" numeric NOT NULL,
	"flagged_rows" integer NOT NULL,
	"actor" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "vendor_reconciliations_pos_unique" UNIQUE("pos")
);
--> statement-breakpoint
ALTER TABLE "balance_daily" ADD CONSTRAINT "balance_daily_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "failures_daily" ADD CONSTRAINT "failures_daily_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_costs_daily" ADD CONSTRAINT "model_costs_daily_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_quarterly" ADD CONSTRAINT "usage_quarterly_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vendor_reconciliation_rows" ADD CONSTRAINT "vendor_reconciliation_rows_reconciliation_id_vendor_reconciliations_id_fk" FOREIGN KEY ("reconciliation_id") REFERENCES "public"."vendor_reconciliations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_daily" ADD CONSTRAINT "usage_daily_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
