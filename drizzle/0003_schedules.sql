CREATE TABLE "schedule_events" (
	"runbook_id" text NOT NULL,
	"seq" integer NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"type" text NOT NULL,
	"actor" text NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "schedule_events_runbook_id_seq_pk" PRIMARY KEY("runbook_id","seq"),
	CONSTRAINT "schedule_events_type_check" CHECK ("schedule_events"."type" in ('schedule.registered', 'schedule.changed', 'schedule.paused', 'schedule.resumed', 'schedule.run_now', 'fire.created', 'fire.refused', 'fire.skipped', 'fire.queued', 'fires.missed', 'silent_failure', 'silent_failure.resolved'))
);
--> statement-breakpoint
CREATE TABLE "schedules" (
	"runbook_id" text PRIMARY KEY NOT NULL,
	"cron" text NOT NULL,
	"timezone" text NOT NULL,
	"cursor_at" timestamp with time zone NOT NULL,
	"watch_since" timestamp with time zone NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"paused_at" timestamp with time zone,
	"paused_by" text,
	"pause_reason" text,
	"queued_fire_at" timestamp with time zone,
	"missed_note" jsonb,
	"alert_packet_id" text,
	"alert_since" timestamp with time zone,
	"event_seq" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "schedule_fires" DROP CONSTRAINT "schedule_fires_runbook_id_fire_at_pk";--> statement-breakpoint
ALTER TABLE "schedule_fires" ADD COLUMN "kind" text DEFAULT 'cron' NOT NULL;--> statement-breakpoint
ALTER TABLE "schedule_fires" ADD COLUMN "outcome" text DEFAULT 'created' NOT NULL;--> statement-breakpoint
ALTER TABLE "schedule_fires" ADD CONSTRAINT "schedule_fires_runbook_id_fire_at_kind_pk" PRIMARY KEY("runbook_id","fire_at","kind");--> statement-breakpoint
ALTER TABLE "schedule_events" ADD CONSTRAINT "schedule_events_runbook_id_schedules_runbook_id_fk" FOREIGN KEY ("runbook_id") REFERENCES "public"."schedules"("runbook_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_alert_packet_id_packets_id_fk" FOREIGN KEY ("alert_packet_id") REFERENCES "public"."packets"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "schedule_fires_task_idx" ON "schedule_fires" USING btree ("task_id");--> statement-breakpoint
ALTER TABLE "schedule_fires" ADD CONSTRAINT "schedule_fires_kind_check" CHECK ("schedule_fires"."kind" in ('cron', 'run_now'));--> statement-breakpoint
ALTER TABLE "schedule_fires" ADD CONSTRAINT "schedule_fires_outcome_check" CHECK ("schedule_fires"."outcome" in ('created', 'refused', 'skipped', 'queued'));