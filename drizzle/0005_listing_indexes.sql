CREATE INDEX "tasks_created_idx" ON "tasks" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "tasks_state_created_idx" ON "tasks" USING btree ("state","created_at","id");