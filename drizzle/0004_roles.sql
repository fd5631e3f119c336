ALTER TABLE "tasks" ADD COLUMN "awaiting_role" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "concurrency_key" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "concurrency_limit" integer;--> statement-breakpoint
CREATE INDEX "tasks_concurrency_key_idx" ON "tasks" USING btree ("concurrency_key","state");--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_awaiting_role_check" CHECK ("tasks"."awaiting_role" is null or "tasks"."awaiting_role" in ('execution', 'verification', 'escalation', 'agent'));