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
-- backfill:start (test/db/aggregates-backfill.test.ts re-runs this part and compares it with what the ledger writes)
-- The aggregates of the ledger written before this migration, by the rule of src/modules/ledger/flows.ts
-- (plan_code is '' for that history: which plan a wallet had then is not in the ledger).
CREATE TABLE "report_backfill" AS
SELECT t.id, t.account_id, t.sequence, t.type, t.amount_millis, t.debt_change_millis, t.balance_after_millis, t.vendor_usage,
  to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
  extract(hour FROM t.created_at AT TIME ZONE 'UTC')::int * 4 + extract(minute FROM t.created_at AT TIME ZONE 'UTC')::int / 15 AS quarter,
  coalesce(t.action, '') AS action, coalesce(t.model, '') AS model,
  CASE WHEN t.type IN ('CHARGE', 'CAPTURE') THEN -t.amount_millis ELSE 0 END AS consumed_millis,
  CASE WHEN t.type IN ('CHARGE', 'CAPTURE') THEN -coalesce(e.paid_free, 0) ELSE 0 END AS consumed_free_millis,
  CASE WHEN t.type IN ('CHARGE', 'CAPTURE') THEN -coalesce(e.paid_purchased, 0) ELSE 0 END AS consumed_purchased_millis,
  CASE WHEN t.type IN ('CHARGE', 'CAPTURE') THEN 1 ELSE 0 END AS transactions,
  CASE WHEN t.type = 'REFUND' OR (t.type = 'REVERSAL' AND t.amount_millis > 0) THEN t.amount_millis ELSE 0 END AS refunded_millis,
  CASE WHEN t.type IN ('GRANT', 'PURCHASE', 'ADJUSTMENT') THEN coalesce(e.in_allowance, 0) ELSE 0 END AS allocated_millis,
  CASE WHEN t.type IN ('GRANT', 'PURCHASE', 'ADJUSTMENT') THEN coalesce(e.in_purchase, 0) ELSE 0 END AS purchased_millis,
  CASE WHEN t.type IN ('GRANT', 'PURCHASE', 'ADJUSTMENT') THEN coalesce(e.in_other, 0)
       WHEN t.type = 'ROLLOVER' THEN greatest(t.amount_millis, 0) ELSE 0 END AS granted_millis,
  CASE WHEN t.type = 'EXPIRE' THEN -t.amount_millis ELSE 0 END AS expired_millis,
  CASE WHEN t.type = 'REVERSAL' AND t.amount_millis < 0 THEN -t.amount_millis ELSE 0 END AS reversed_millis,
  CASE WHEN t.type = 'ROLLOVER' THEN coalesce(e.in_rollover, 0) ELSE 0 END AS carried_forward_millis,
  t.amount_millis AS balance_change_millis
FROM "ledger_transactions" t
LEFT JOIN LATERAL (
  SELECT
    sum(x.amount_millis) FILTER (WHERE b.source <> 'PURCHASE') AS paid_free,
    sum(x.amount_millis) FILTER (WHERE b.source = 'PURCHASE') AS paid_purchased,
    sum(x.amount_millis) FILTER (WHERE x.amount_millis > 0 AND b.source = 'PLAN_ALLOWANCE') AS in_allowance,
    sum(x.amount_millis) FILTER (WHERE x.amount_millis > 0 AND b.source = 'PURCHASE') AS in_purchase,
    sum(x.amount_millis) FILTER (WHERE x.amount_millis > 0 AND b.source NOT IN ('PLAN_ALLOWANCE', 'PURCHASE')) AS in_other,
    sum(x.amount_millis) FILTER (WHERE x.amount_millis > 0 AND b.source = 'ROLLOVER') AS in_rollover
  FROM "ledger_entries" x LEFT JOIN "buckets" b ON b.id = x.bucket_id
  WHERE x.transaction_id = t.id
) e ON true
WHERE t.status = 'SUCCEEDED';
--> statement-breakpoint
INSERT INTO "usage_daily" ("account_id", "day", "plan_code", "action", "model", "consumed_millis", "consumed_free_millis", "consumed_purchased_millis",
  "transactions", "refunded_millis", "allocated_millis", "purchased_millis", "granted_millis", "expired_millis", "reversed_millis",
  "carried_forward_millis", "balance_change_millis", "debt_change_millis")
SELECT account_id, day, '', action, model, sum(consumed_millis), sum(consumed_free_millis), sum(consumed_purchased_millis), sum(transactions),
  sum(refunded_millis), sum(allocated_millis), sum(purchased_millis), sum(granted_millis), sum(expired_millis), sum(reversed_millis),
  sum(carried_forward_millis), sum(balance_change_millis), sum(debt_change_millis)
FROM "report_backfill" GROUP BY account_id, day, action, model;
--> statement-breakpoint
INSERT INTO "usage_quarterly" ("account_id", "day", "quarter", "action", "model", "consumed_millis", "consumed_free_millis", "consumed_purchased_millis",
  "transactions", "refunded_millis", "allocated_millis", "purchased_millis", "granted_millis", "expired_millis", "reversed_millis",
  "carried_forward_millis", "balance_change_millis", "debt_change_millis")
SELECT account_id, day, quarter, action, model, sum(consumed_millis), sum(consumed_free_millis), sum(consumed_purchased_millis), sum(transactions),
  sum(refunded_millis), sum(allocated_millis), sum(purchased_millis), sum(granted_millis), sum(expired_millis), sum(reversed_millis),
  sum(carried_forward_millis), sum(balance_change_millis), sum(debt_change_millis)
FROM "report_backfill" GROUP BY account_id, day, quarter, action, model;
--> statement-breakpoint
INSERT INTO "balance_daily" ("account_id", "day", "sequence", "balance_after_millis", "debt_after_millis")
SELECT DISTINCT ON (account_id, day) account_id, day, sequence, balance_after_millis, debt_after
FROM (SELECT *, sum(debt_change_millis) OVER (PARTITION BY account_id ORDER BY sequence) AS debt_after FROM "report_backfill") s
ORDER BY account_id, day, sequence DESC;
--> statement-breakpoint
-- Credit revenue: what each charge's (or capture's) entries consumed at their bucket's cost basis, less what refunds gave back to
-- the bucket it came from; vendor costs from vendorUsage records that carry a well-formed one.
INSERT INTO "model_costs_daily" ("account_id", "day", "vendor", "model", "currency", "revenue", "vendor_cost", "vendor_units", "vendor_charges")
SELECT account_id, day, vendor, model, currency, sum(revenue), sum(vendor_cost), sum(vendor_units), sum(vendor_charges)::int
FROM (
  SELECT f.account_id, f.day, f.vendor, f.model, b.currency, -x.amount_millis * b.cost_per_credit::numeric / 1000 AS revenue,
    0 AS vendor_cost, 0 AS vendor_units, 0 AS vendor_charges
  FROM (
    SELECT r.*, CASE WHEN r.type IN ('CHARGE', 'CAPTURE') AND v.cost IS NOT NULL THEN v.vendor ELSE '' END AS vendor
    FROM "report_backfill" r
    LEFT JOIN LATERAL (
      SELECT btrim(r.vendor_usage->>'vendor') AS vendor, r.vendor_usage->>'cost' AS cost
      WHERE jsonb_typeof(r.vendor_usage) = 'object' AND jsonb_typeof(r.vendor_usage->'vendor') = 'string'
        AND btrim(r.vendor_usage->>'vendor') <> '' AND r.vendor_usage->>'cost' ~ '^\d+(\.\d+)?$' AND coalesce(r.vendor_usage->>'currency', '') ~ '^[A-Z]{3}$'
    ) v ON true
    WHERE r.type IN ('CHARGE', 'CAPTURE', 'REFUND') OR (r.type = 'REVERSAL' AND r.amount_millis > 0)
  ) f
  JOIN "ledger_entries" x ON x.transaction_id = f.id
  JOIN "buckets" b ON b.id = CASE WHEN f.type IN ('CHARGE', 'CAPTURE') THEN x.bucket_id ELSE x.origin_bucket_id END
  WHERE b.cost_per_credit IS NOT NULL AND b.currency IS NOT NULL AND b.cost_per_credit::numeric <> 0
  UNION ALL
  SELECT r.account_id, r.day, btrim(r.vendor_usage->>'vendor'), r.model, r.vendor_usage->>'currency', 0, (r.vendor_usage->>'cost')::numeric,
    coalesce(CASE jsonb_typeof(r.vendor_usage->'units')
      WHEN 'number' THEN (SELECT (r.vendor_usage->>'units')::numeric WHERE (r.vendor_usage->>'units')::numeric >= 0)
      WHEN 'string' THEN (SELECT (r.vendor_usage->>'units')::numeric WHERE r.vendor_usage->>'units' ~ '^\d+(\.\d+)?$')
      WHEN 'object' THEN (SELECT sum(u.value::numeric) FROM jsonb_each_text(r.vendor_usage->'units') u
        WHERE jsonb_typeof(r.vendor_usage->'units'->u.key) IN ('number', 'string') AND u.value ~ '^\d+(\.\d+)?$')
    END, 0), 1
  FROM "report_backfill" r
  WHERE r.type IN ('CHARGE', 'CAPTURE') AND jsonb_typeof(r.vendor_usage) = 'object' AND jsonb_typeof(r.vendor_usage->'vendor') = 'string'
    AND btrim(r.vendor_usage->>'vendor') <> '' AND r.vendor_usage->>'cost' ~ '^\d+(\.\d+)?$' AND coalesce(r.vendor_usage->>'currency', '') ~ '^[A-Z]{3}$'
) m
GROUP BY account_id, day, vendor, model, currency;
--> statement-breakpoint
INSERT INTO "failures_daily" ("account_id", "day", "failure_code", "attempts")
SELECT account_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), failure_code, count(*)::int
FROM "ledger_transactions" WHERE status = 'FAILED' AND failure_code IS NOT NULL
GROUP BY 1, 2, 3;
--> statement-breakpoint
DROP TABLE "report_backfill";
-- backfill:end
