-- Source schema of the Americano study app's research tables (PostgreSQL 15).
--
-- This file is the single definition that the embedded demo database, the tests and the Pandera schemas
-- (americano_pipeline/source/schema.py parses the enums and BETWEEN ranges below) agree with.
-- Tables, enums and columns are named as Prisma creates them from the app's models: snake_case tables via
-- @@map, quoted camelCase columns, enums as PostgreSQL types, ids as CUIDs. Two deliberate additions to the
-- Prisma output, both for research use: DateTime columns are timestamptz (an unambiguous instant, UTC on
-- extract) instead of Prisma's default timestamp(3) without zone, and named CHECK constraints that encode the
-- documented value ranges so the database itself rejects impossible rows (the pipeline's Pandera checks
-- repeat these rules because an app database may lack them). "minPhaseLength" on experiment_protocols records
-- the pre-registered minimum phase length L that the randomized phase schedule was drawn with.
-- context_metadata also holds the pipeline's wearable imports (docs/CONTEXT.md): "source", "externalId",
-- "localDate" and "steps" are additions the app's Prisma model needs (a migration the app takes), and the
-- self-report fields are required only on SELF_REPORT rows (context_metadata_self_report_complete).
-- userId columns carry the app's user id; the users table is not part of the research extract, so there is
-- no foreign key to it.

CREATE TYPE "ExperimentDesignType" AS ENUM ('ABAB', 'MULTIPLE_BASELINE', 'ALTERNATING', 'CHANGING_CRITERION');
CREATE TYPE "PhaseType" AS ENUM ('BASELINE', 'INTERVENTION_A', 'INTERVENTION_B', 'WASHOUT');
CREATE TYPE "MoodLevel" AS ENUM ('LOW', 'MEDIUM', 'HIGH');
CREATE TYPE "LocationType" AS ENUM ('HOME', 'LIBRARY', 'CAFE', 'CAMPUS', 'OTHER');
CREATE TYPE "EventType" AS ENUM (
    'MISSION_STARTED', 'MISSION_COMPLETED', 'CARD_REVIEWED', 'VALIDATION_COMPLETED', 'SESSION_STARTED',
    'SESSION_ENDED', 'LECTURE_UPLOADED', 'SEARCH_PERFORMED', 'GRAPH_VIEWED', 'RECOMMENDATION_VIEWED',
    'RECOMMENDATION_CLICKED', 'RECOMMENDATION_DISMISSED', 'RECOMMENDATION_RATED'
);
CREATE TYPE "CompletionQuality" AS ENUM ('RUSHED', 'NORMAL', 'THOROUGH');
CREATE TYPE "EngagementLevel" AS ENUM ('LOW', 'MEDIUM', 'HIGH');
CREATE TYPE "ContextSource" AS ENUM ('SELF_REPORT', 'APPLE_HEALTH', 'OURA', 'WHOOP');

CREATE TABLE "experiment_protocols" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "protocolName" TEXT NOT NULL,
    "hypothesis" TEXT NOT NULL,
    "startDate" TIMESTAMPTZ(3) NOT NULL,
    "endDate" TIMESTAMPTZ(3),
    "designType" "ExperimentDesignType" NOT NULL,
    "primaryOutcome" TEXT NOT NULL,
    "sampleSizeTarget" INTEGER NOT NULL,
    "analysisPlan" TEXT NOT NULL,
    "minPhaseLength" INTEGER NOT NULL DEFAULT 3,
    "deviations" JSONB[] NOT NULL DEFAULT ARRAY[]::JSONB[],
    "screened" INTEGER,
    "eligible" INTEGER,
    "enrolled" INTEGER,
    "completed" INTEGER,
    CONSTRAINT "experiment_protocols_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "experiment_protocols_id_cuid" CHECK ("id" ~ '^c[a-z0-9]{24}$'),
    CONSTRAINT "experiment_protocols_dates" CHECK ("endDate" IS NULL OR "endDate" >= "startDate"),
    CONSTRAINT "experiment_protocols_sampleSizeTarget_range" CHECK ("sampleSizeTarget" BETWEEN 1 AND 100000),
    CONSTRAINT "experiment_protocols_minPhaseLength_range" CHECK ("minPhaseLength" BETWEEN 1 AND 365)
);
CREATE INDEX "experiment_protocols_userId_idx" ON "experiment_protocols"("userId");
CREATE INDEX "experiment_protocols_startDate_idx" ON "experiment_protocols"("startDate");

CREATE TABLE "phase_assignments" (
    "id" TEXT NOT NULL,
    "protocolId" TEXT NOT NULL,
    "phaseLabel" TEXT NOT NULL,
    "phaseType" "PhaseType" NOT NULL,
    "startDate" TIMESTAMPTZ(3) NOT NULL,
    "endDate" TIMESTAMPTZ(3),
    "plannedDuration" INTEGER NOT NULL,
    "randomizationSeed" INTEGER NOT NULL,
    "interventionParams" JSONB NOT NULL,
    CONSTRAINT "phase_assignments_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "phase_assignments_id_cuid" CHECK ("id" ~ '^c[a-z0-9]{24}$'),
    CONSTRAINT "phase_assignments_dates" CHECK ("endDate" IS NULL OR "endDate" >= "startDate"),
    CONSTRAINT "phase_assignments_plannedDuration_range" CHECK ("plannedDuration" BETWEEN 1 AND 3650),
    CONSTRAINT "phase_assignments_protocolId_fkey" FOREIGN KEY ("protocolId")
        REFERENCES "experiment_protocols"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "phase_assignments_protocolId_idx" ON "phase_assignments"("protocolId");
CREATE INDEX "phase_assignments_startDate_idx" ON "phase_assignments"("startDate");

CREATE TABLE "context_metadata" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "mood" "MoodLevel",
    "energyLevel" INTEGER DEFAULT 5,
    "location" "LocationType",
    "notes" TEXT,
    "sleepHours" DOUBLE PRECISION,
    "sleepQuality" INTEGER,
    "hrvScore" INTEGER,
    "restingHeartRate" INTEGER,
    "activityStrain" DOUBLE PRECISION,
    "source" "ContextSource" NOT NULL DEFAULT 'SELF_REPORT',
    "externalId" TEXT,
    "localDate" DATE,
    "steps" INTEGER,
    CONSTRAINT "context_metadata_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "context_metadata_id_cuid" CHECK ("id" ~ '^c[a-z0-9]{24}$'),
    CONSTRAINT "context_metadata_energyLevel_range" CHECK ("energyLevel" BETWEEN 1 AND 10),
    CONSTRAINT "context_metadata_sleepHours_range" CHECK ("sleepHours" BETWEEN 0 AND 24),
    CONSTRAINT "context_metadata_sleepQuality_range" CHECK ("sleepQuality" BETWEEN 1 AND 10),
    CONSTRAINT "context_metadata_hrvScore_range" CHECK ("hrvScore" BETWEEN 0 AND 300),
    CONSTRAINT "context_metadata_restingHeartRate_range" CHECK ("restingHeartRate" BETWEEN 20 AND 250),
    CONSTRAINT "context_metadata_activityStrain_range" CHECK ("activityStrain" BETWEEN 0 AND 21),
    CONSTRAINT "context_metadata_steps_range" CHECK ("steps" BETWEEN 0 AND 200000),
    CONSTRAINT "context_metadata_self_report_complete" CHECK ("source" <> 'SELF_REPORT' OR
        ("mood" IS NOT NULL AND "energyLevel" IS NOT NULL AND "location" IS NOT NULL)),
    CONSTRAINT "context_metadata_import_identified" CHECK ("source" = 'SELF_REPORT' OR
        ("externalId" IS NOT NULL AND "localDate" IS NOT NULL AND "mood" IS NULL AND "energyLevel" IS NULL
         AND "location" IS NULL))
);
CREATE INDEX "context_metadata_userId_timestamp_idx" ON "context_metadata"("userId", "timestamp");
CREATE UNIQUE INDEX "context_metadata_userId_source_localDate_key"
    ON "context_metadata"("userId", "source", "localDate");

CREATE TABLE "behavioral_events" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "eventType" "EventType" NOT NULL,
    "eventData" JSONB NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completionQuality" "CompletionQuality",
    "contentType" TEXT,
    "dayOfWeek" INTEGER,
    "difficultyLevel" TEXT,
    "engagementLevel" "EngagementLevel",
    "sessionPerformanceScore" INTEGER,
    "timeOfDay" INTEGER,
    "experimentPhase" TEXT,
    "randomizationSeed" INTEGER,
    "contextMetadataId" TEXT,
    CONSTRAINT "behavioral_events_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "behavioral_events_id_cuid" CHECK ("id" ~ '^c[a-z0-9]{24}$'),
    CONSTRAINT "behavioral_events_dayOfWeek_range" CHECK ("dayOfWeek" BETWEEN 0 AND 6),
    CONSTRAINT "behavioral_events_timeOfDay_range" CHECK ("timeOfDay" BETWEEN 0 AND 23),
    CONSTRAINT "behavioral_events_sessionPerformanceScore_range" CHECK ("sessionPerformanceScore" BETWEEN 0 AND 100),
    CONSTRAINT "behavioral_events_contextMetadataId_fkey" FOREIGN KEY ("contextMetadataId")
        REFERENCES "context_metadata"("id") ON DELETE SET NULL ON UPDATE CASCADE
);
CREATE INDEX "behavioral_events_userId_idx" ON "behavioral_events"("userId");
CREATE INDEX "behavioral_events_eventType_idx" ON "behavioral_events"("eventType");
CREATE INDEX "behavioral_events_timestamp_idx" ON "behavioral_events"("timestamp");
CREATE INDEX "behavioral_events_userId_eventType_timestamp_idx" ON "behavioral_events"("userId", "eventType", "timestamp");
CREATE INDEX "behavioral_events_userId_dayOfWeek_idx" ON "behavioral_events"("userId", "dayOfWeek");
CREATE INDEX "behavioral_events_userId_timeOfDay_idx" ON "behavioral_events"("userId", "timeOfDay");
CREATE INDEX "behavioral_events_experimentPhase_idx" ON "behavioral_events"("experimentPhase");

CREATE TABLE "analysis_runs" (
    "id" TEXT NOT NULL,
    "protocolId" TEXT NOT NULL,
    "runName" TEXT NOT NULL,
    "analysisType" TEXT NOT NULL,
    "codeCommitHash" TEXT NOT NULL,
    "dataVersionHash" TEXT NOT NULL,
    "inputParams" JSONB NOT NULL,
    "mlflowRunId" TEXT,
    "artifactPaths" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "resultsSummary" JSONB NOT NULL,
    "startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completedAt" TIMESTAMPTZ(3),
    CONSTRAINT "analysis_runs_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "analysis_runs_id_cuid" CHECK ("id" ~ '^c[a-z0-9]{24}$'),
    CONSTRAINT "analysis_runs_dates" CHECK ("completedAt" IS NULL OR "completedAt" >= "startedAt"),
    CONSTRAINT "analysis_runs_protocolId_fkey" FOREIGN KEY ("protocolId")
        REFERENCES "experiment_protocols"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "analysis_runs_protocolId_idx" ON "analysis_runs"("protocolId");
CREATE INDEX "analysis_runs_startedAt_idx" ON "analysis_runs"("startedAt");

-- Upgrades: what a database created from an earlier version of this file lacks, added in place. Like the section
-- after it, this one is idempotent and applied again by every ensure_schema; each step runs only when its change
-- is missing, so an up-to-date database is not altered (nor locked).
-- 1. Wearable imports (americano_pipeline/context): context_metadata rows with a source other than SELF_REPORT,
--    one per user, source and calendar day ("localDate"), named by the vendor's id ("externalId"), carrying
--    measurements only: the self-report fields (mood, energy, location) stay required for SELF_REPORT rows and
--    empty on imported ones, so nothing is invented for a day the user did not report.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'ContextSource') THEN
        CREATE TYPE "ContextSource" AS ENUM ('SELF_REPORT', 'APPLE_HEALTH', 'OURA', 'WHOOP');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_name = 'context_metadata' AND column_name = 'source') THEN
        ALTER TABLE "context_metadata"
            ALTER COLUMN "mood" DROP NOT NULL,
            ALTER COLUMN "energyLevel" DROP NOT NULL,
            ALTER COLUMN "location" DROP NOT NULL,
            ADD COLUMN "source" "ContextSource" NOT NULL DEFAULT 'SELF_REPORT',
            ADD COLUMN "externalId" TEXT,
            ADD COLUMN "localDate" DATE,
            ADD COLUMN "steps" INTEGER,
            ADD CONSTRAINT "context_metadata_steps_range" CHECK ("steps" BETWEEN 0 AND 200000),
            ADD CONSTRAINT "context_metadata_self_report_complete" CHECK ("source" <> 'SELF_REPORT' OR
                ("mood" IS NOT NULL AND "energyLevel" IS NOT NULL AND "location" IS NOT NULL)),
            ADD CONSTRAINT "context_metadata_import_identified" CHECK ("source" = 'SELF_REPORT' OR
                ("externalId" IS NOT NULL AND "localDate" IS NOT NULL AND "mood" IS NULL
                 AND "energyLevel" IS NULL AND "location" IS NULL));
        CREATE UNIQUE INDEX "context_metadata_userId_source_localDate_key"
            ON "context_metadata"("userId", "source", "localDate");
    END IF;
END
$$;

-- Roles and privileges: who may do what (americano_pipeline/source/connection.py says why). This section is
-- idempotent and applied again by every ensure_schema (americano db start, prepare, seed), so a database created
-- before a change here gets it, and whatever else these roles were granted on the schema's tables is revoked.
--   americano_reader  the extract, the sensor, the partitions: SELECT on the five tables, nothing else
--   americano_writer  provenance: SELECT, INSERT, UPDATE on analysis_runs; and the wearable imports: SELECT,
--                     INSERT, UPDATE on context_metadata, limited by a policy to rows whose source is not
--                     SELF_REPORT (the pipeline can neither read nor change what the user reported)
--   americano_api     the research API: SELECT on the five tables, always under row-level security (the
--                     policies on app.user_id come with the API)
-- They are meant to be logins that are neither superuser nor BYPASSRLS nor members of any role: the embedded
-- cluster creates them so before this runs, on another server an administrator does (README, "Using a real
-- database"). A role still missing is created here NOLOGIN and granted to the login applying this file, which
-- then reaches it by SET ROLE (the single-login setup of an external server).
DO $$
DECLARE
    name TEXT;
BEGIN
    FOREACH name IN ARRAY ARRAY['americano_reader', 'americano_writer', 'americano_api'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', name);
            EXECUTE format('GRANT %I TO CURRENT_USER', name);
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM americano_reader, americano_writer, americano_api;
GRANT USAGE ON SCHEMA public TO americano_reader, americano_writer, americano_api;
GRANT SELECT ON "experiment_protocols", "phase_assignments", "context_metadata", "behavioral_events",
    "analysis_runs" TO americano_reader, americano_api;
GRANT SELECT, INSERT, UPDATE ON "analysis_runs", "context_metadata" TO americano_writer;
-- Row-level security: americano_api sees only the rows of the user named by the session setting app.user_id
-- (unset: no rows); the reader keeps every row, the writer every analysis_runs row and the imported
-- context_metadata rows. The owner is not subject to
-- these policies (no FORCE), so seeding and maintenance are unchanged.
ALTER TABLE "experiment_protocols" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "phase_assignments" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "context_metadata" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "behavioral_events" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "analysis_runs" ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS "reader_all_rows" ON "experiment_protocols";
DROP POLICY IF EXISTS "reader_all_rows" ON "phase_assignments";
DROP POLICY IF EXISTS "reader_all_rows" ON "context_metadata";
DROP POLICY IF EXISTS "reader_all_rows" ON "behavioral_events";
DROP POLICY IF EXISTS "reader_all_rows" ON "analysis_runs";
DROP POLICY IF EXISTS "writer_all_rows" ON "analysis_runs";
DROP POLICY IF EXISTS "writer_imported_rows" ON "context_metadata";
DROP POLICY IF EXISTS "api_own_rows" ON "experiment_protocols";
DROP POLICY IF EXISTS "api_own_rows" ON "phase_assignments";
DROP POLICY IF EXISTS "api_own_rows" ON "context_metadata";
DROP POLICY IF EXISTS "api_own_rows" ON "behavioral_events";
DROP POLICY IF EXISTS "api_own_rows" ON "analysis_runs";
CREATE POLICY "reader_all_rows" ON "experiment_protocols" FOR SELECT TO americano_reader USING (true);
CREATE POLICY "reader_all_rows" ON "phase_assignments" FOR SELECT TO americano_reader USING (true);
CREATE POLICY "reader_all_rows" ON "context_metadata" FOR SELECT TO americano_reader USING (true);
CREATE POLICY "reader_all_rows" ON "behavioral_events" FOR SELECT TO americano_reader USING (true);
CREATE POLICY "reader_all_rows" ON "analysis_runs" FOR SELECT TO americano_reader USING (true);
CREATE POLICY "writer_all_rows" ON "analysis_runs" FOR ALL TO americano_writer USING (true) WITH CHECK (true);
CREATE POLICY "writer_imported_rows" ON "context_metadata" FOR ALL TO americano_writer
    USING ("source" <> 'SELF_REPORT') WITH CHECK ("source" <> 'SELF_REPORT');
CREATE POLICY "api_own_rows" ON "experiment_protocols" FOR SELECT TO americano_api
    USING ("userId" = current_setting('app.user_id', true));
CREATE POLICY "api_own_rows" ON "context_metadata" FOR SELECT TO americano_api
    USING ("userId" = current_setting('app.user_id', true));
CREATE POLICY "api_own_rows" ON "behavioral_events" FOR SELECT TO americano_api
    USING ("userId" = current_setting('app.user_id', true));
CREATE POLICY "api_own_rows" ON "phase_assignments" FOR SELECT TO americano_api
    USING ("protocolId" IN (SELECT "id" FROM "experiment_protocols"
                            WHERE "userId" = current_setting('app.user_id', true)));
CREATE POLICY "api_own_rows" ON "analysis_runs" FOR SELECT TO americano_api
    USING ("protocolId" IN (SELECT "id" FROM "experiment_protocols"
                            WHERE "userId" = current_setting('app.user_id', true)));
