CREATE TABLE "intake_events" (
	"id" text PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"source_type" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"delivery_id" text,
	"outcome" text NOT NULL,
	"summary" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"results" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"error" text,
	CONSTRAINT "intake_events_outcome_check" CHECK ("intake_events"."outcome" in ('processed', 'unauthorized', 'invalid'))
);
--> statement-breakpoint
CREATE TABLE "task_origins" (
	"task_id" text PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"source_type" text NOT NULL,
	"target" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "writebacks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"task_id" text NOT NULL,
	"source" text NOT NULL,
	"kind" text NOT NULL,
	"key" text NOT NULL,
	"body" jsonb NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"last_error" text,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "writebacks_state_check" CHECK ("writebacks"."state" in ('pending', 'delivered', 'dead')),
	CONSTRAINT "writebacks_kind_check" CHECK ("writebacks"."kind" in ('escalated', 'ended'))
);
--> statement-breakpoint
ALTER TABLE "task_origins" ADD CONSTRAINT "task_origins_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "writebacks" ADD CONSTRAINT "writebacks_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "intake_events_source_idx" ON "intake_events" USING btree ("source","received_at");--> statement-breakpoint
CREATE UNIQUE INDEX "writebacks_key_key" ON "writebacks" USING btree ("key");--> statement-breakpoint
CREATE INDEX "writebacks_due_idx" ON "writebacks" USING btree ("state","next_attempt_at");