CREATE TABLE "accounts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"external_id" text,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"plan_tier" text,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "accounts_external_id_unique" UNIQUE("external_id")
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"secret_hash" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_secret_hash_unique" UNIQUE("secret_hash")
);
--> statement-breakpoint
CREATE TABLE "buckets" (
	"id" uuid PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"source" text NOT NULL,
	"amount_millis" bigint NOT NULL,
	"remaining_millis" bigint NOT NULL,
	"priority" integer NOT NULL,
	"effective_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone,
	"applicable_actions" jsonb,
	"applicable_models" jsonb,
	"cost_per_credit" text,
	"currency" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "hold_allocations" (
	"hold_id" uuid NOT NULL,
	"bucket_id" uuid NOT NULL,
	"amount_millis" bigint NOT NULL,
	CONSTRAINT "hold_allocations_hold_id_bucket_id_pk" PRIMARY KEY("hold_id","bucket_id")
);
--> statement-breakpoint
CREATE TABLE "holds" (
	"id" uuid PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"amount_millis" bigint NOT NULL,
	"status" text NOT NULL,
	"action" text,
	"model" text,
	"quote_id" uuid,
	"pricing" jsonb,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"closed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"scope" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"response" jsonb,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "idempotency_keys_scope_key_pk" PRIMARY KEY("scope","key")
);
--> statement-breakpoint
CREATE TABLE "ledger_entries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"transaction_id" uuid NOT NULL,
	"account_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"bucket_id" uuid,
	"origin_bucket_id" uuid,
	"amount_millis" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ledger_transactions" (
	"pos" bigserial NOT NULL,
	"id" uuid PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"sequence" integer,
	"type" text NOT NULL,
	"status" text NOT NULL,
	"amount_millis" bigint NOT NULL,
	"held_change_millis" bigint DEFAULT 0 NOT NULL,
	"debt_change_millis" bigint DEFAULT 0 NOT NULL,
	"balance_after_millis" bigint,
	"available_after_millis" bigint,
	"requested_millis" bigint,
	"action" text,
	"model" text,
	"params" jsonb,
	"actor" text NOT NULL,
	"comment" text,
	"idempotency_key" text,
	"quote_id" uuid,
	"hold_id" uuid,
	"related_transaction_id" uuid,
	"failure_code" text,
	"failure_message" text,
	"pricing" jsonb,
	"vendor_usage" jsonb,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "ledger_transactions_pos_unique" UNIQUE("pos")
);
--> statement-breakpoint
CREATE TABLE "quotes" (
	"id" uuid PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"rate_card_version" integer NOT NULL,
	"action" text NOT NULL,
	"model" text,
	"params" jsonb,
	"credits_millis" bigint NOT NULL,
	"line_items" jsonb NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"used_by" uuid,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rate_cards" (
	"id" uuid PRIMARY KEY NOT NULL,
	"version" integer,
	"status" text NOT NULL,
	"name" text NOT NULL,
	"content" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"published_at" timestamp with time zone,
	CONSTRAINT "rate_cards_version_unique" UNIQUE("version")
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "wallets" (
	"account_id" uuid PRIMARY KEY NOT NULL,
	"debt_millis" bigint DEFAULT 0 NOT NULL,
	"overdraft_limit_millis" bigint DEFAULT 0 NOT NULL,
	"frozen" boolean DEFAULT false NOT NULL,
	"sequence" integer DEFAULT 0 NOT NULL,
	"low_credit_thresholds" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "buckets" ADD CONSTRAINT "buckets_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "hold_allocations" ADD CONSTRAINT "hold_allocations_hold_id_holds_id_fk" FOREIGN KEY ("hold_id") REFERENCES "public"."holds"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "hold_allocations" ADD CONSTRAINT "hold_allocations_bucket_id_buckets_id_fk" FOREIGN KEY ("bucket_id") REFERENCES "public"."buckets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "holds" ADD CONSTRAINT "holds_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_transaction_id_ledger_transactions_id_fk" FOREIGN KEY ("transaction_id") REFERENCES "public"."ledger_transactions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ledger_transactions" ADD CONSTRAINT "ledger_transactions_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "quotes" ADD CONSTRAINT "quotes_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "wallets" ADD CONSTRAINT "wallets_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "buckets_account_idx" ON "buckets" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "hold_allocations_bucket_idx" ON "hold_allocations" USING btree ("bucket_id");--> statement-breakpoint
CREATE INDEX "holds_account_status_idx" ON "holds" USING btree ("account_id","status");--> statement-breakpoint
CREATE INDEX "holds_active_expiry_idx" ON "holds" USING btree ("expires_at") WHERE status = 'ACTIVE';--> statement-breakpoint
CREATE INDEX "idempotency_keys_expiry_idx" ON "idempotency_keys" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "ledger_entries_transaction_idx" ON "ledger_entries" USING btree ("transaction_id");--> statement-breakpoint
CREATE INDEX "ledger_entries_bucket_idx" ON "ledger_entries" USING btree ("bucket_id");--> statement-breakpoint
CREATE UNIQUE INDEX "ledger_transactions_account_sequence_uq" ON "ledger_transactions" USING btree ("account_id","sequence");--> statement-breakpoint
CREATE INDEX "ledger_transactions_account_pos_idx" ON "ledger_transactions" USING btree ("account_id","pos");--> statement-breakpoint
CREATE INDEX "ledger_transactions_related_idx" ON "ledger_transactions" USING btree ("related_transaction_id");