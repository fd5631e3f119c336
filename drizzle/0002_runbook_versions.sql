CREATE TABLE "runbook_versions" (
	"hash" text PRIMARY KEY NOT NULL,
	"runbook_id" text NOT NULL,
	"version" integer NOT NULL,
	"file" text NOT NULL,
	"source" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "runbook_hash" text;