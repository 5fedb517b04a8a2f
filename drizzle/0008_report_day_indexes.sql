CREATE INDEX "failures_daily_day_idx" ON "failures_daily" USING btree ("day");--> statement-breakpoint
CREATE INDEX "model_costs_daily_day_idx" ON "model_costs_daily" USING btree ("day");--> statement-breakpoint
CREATE INDEX "usage_daily_day_idx" ON "usage_daily" USING btree ("day");