CREATE TABLE "attempts" (
	"task_id" text NOT NULL,
	"step" text NOT NULL,
	"kind" text NOT NULL,
	"attempt" integer NOT NULL,
	"idempotency_key" text,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"outcome" text,
	"failure_class" text,
	"error" text,
	"duration_ms" integer,
	"result" jsonb,
	CONSTRAINT "attempts_task_id_step_kind_attempt_pk" PRIMARY KEY("task_id","step","kind","attempt"),
	CONSTRAINT "attempts_kind_check" CHECK ("attempts"."kind" in ('action', 'probe', 'verify', 'compensate', 'refresh')),
	CONSTRAINT "attempts_outcome_check" CHECK ("attempts"."outcome" is null or "attempts"."outcome" in ('succeeded', 'failed', 'in_doubt'))
);
--> statement-breakpoint
CREATE TABLE "events" (
	"task_id" text NOT NULL,
	"seq" integer NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"type" text NOT NULL,
	"step" text,
	"actor" text NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "events_task_id_seq_pk" PRIMARY KEY("task_id","seq")
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"packet_id" text NOT NULL,
	"task_id" text NOT NULL,
	"sink" text NOT NULL,
	"kind" text DEFAULT 'trigger' NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"last_error" text,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "outbox_state_check" CHECK ("outbox"."state" in ('pending', 'delivered', 'dead'))
);
--> statement-breakpoint
CREATE TABLE "packets" (
	"id" text PRIMARY KEY NOT NULL,
	"task_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"reason" text NOT NULL,
	"route" text NOT NULL,
	"body" jsonb NOT NULL,
	"resolved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "schedule_fires" (
	"runbook_id" text NOT NULL,
	"fire_at" timestamp with time zone NOT NULL,
	"task_id" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "schedule_fires_runbook_id_fire_at_pk" PRIMARY KEY("runbook_id","fire_at")
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"id" text PRIMARY KEY NOT NULL,
	"external_ref" text,
	"task_class" text NOT NULL,
	"runbook_id" text,
	"runbook_version" integer,
	"requested_by" text,
	"input" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"state" text NOT NULL,
	"current_step" text,
	"steps" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"cursor" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"retry_used" integer DEFAULT 0 NOT NULL,
	"retry_limit" integer DEFAULT 0 NOT NULL,
	"deadline_at" timestamp with time zone,
	"next_attempt_at" timestamp with time zone,
	"lease_owner" text,
	"lease_expires_at" timestamp with time zone,
	"callback_token_hash" text,
	"cancel_requested" boolean DEFAULT false NOT NULL,
	"rejection" jsonb,
	"escalation" jsonb,
	"event_seq" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "tasks_state_check" CHECK ("tasks"."state" in ('queued', 'running', 'retry_scheduled', 'waiting_callback', 'awaiting_approval', 'compensating', 'escalated', 'in_handover', 'completed', 'partially_completed', 'rolled_back', 'cancelled', 'failed', 'rejected'))
);
--> statement-breakpoint
ALTER TABLE "attempts" ADD CONSTRAINT "attempts_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "outbox" ADD CONSTRAINT "outbox_packet_id_packets_id_fk" FOREIGN KEY ("packet_id") REFERENCES "public"."packets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "packets" ADD CONSTRAINT "packets_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "events_type_idx" ON "events" USING btree ("type","at");--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_packet_sink_kind_key" ON "outbox" USING btree ("packet_id","sink","kind");--> statement-breakpoint
CREATE INDEX "outbox_due_idx" ON "outbox" USING btree ("state","next_attempt_at");--> statement-breakpoint
CREATE INDEX "packets_task_idx" ON "packets" USING btree ("task_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_external_ref_key" ON "tasks" USING btree ("external_ref");--> statement-breakpoint
CREATE UNIQUE INDEX "tasks_callback_token_key" ON "tasks" USING btree ("callback_token_hash");--> statement-breakpoint
CREATE INDEX "tasks_state_idx" ON "tasks" USING btree ("state","next_attempt_at");--> statement-breakpoint
CREATE INDEX "tasks_runbook_idx" ON "tasks" USING btree ("runbook_id","created_at");