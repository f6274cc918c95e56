-- Workflows (issue 8, docs/workflows.md): versions of a blueprint, the
-- durable step queue of the runs, the record of every side effect a step
-- made (its idempotency key and what it moved, for the caps), and the
-- trigger's bookkeeping on the blueprint.

ALTER TABLE workflow_blueprints
  ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  ADD COLUMN active_version integer,
  ADD COLUMN trigger_kind text CHECK (trigger_kind IN ('event', 'cron', 'webhook', 'manual')),
  ADD COLUMN cron text,
  ADD COLUMN timezone text,
  ADD COLUMN next_run_at timestamptz,
  ADD COLUMN last_run_at timestamptz,
  ADD COLUMN webhook_token text,
  ADD COLUMN webhook_url text,
  ADD COLUMN explanation text,
  ADD COLUMN max_messages_per_hour integer NOT NULL DEFAULT 500 CHECK (max_messages_per_hour >= 0),
  ADD COLUMN max_money_per_day numeric(14,2) NOT NULL DEFAULT 500000 CHECK (max_money_per_day >= 0),
  ADD COLUMN paused_reason text,
  ADD COLUMN paused_at timestamptz;
CREATE INDEX workflow_blueprints_event ON workflow_blueprints (profile_id, trigger_event)
  WHERE is_active AND trigger_kind = 'event';
CREATE INDEX workflow_blueprints_cron ON workflow_blueprints (next_run_at)
  WHERE is_active AND trigger_kind = 'cron';
CREATE UNIQUE INDEX workflow_blueprints_webhook ON workflow_blueprints (webhook_token)
  WHERE webhook_token IS NOT NULL;

-- Each version of a blueprint's graph, as it was when it was saved. A run
-- runs one version, whatever is edited while it runs.
CREATE TABLE workflow_versions (
  profile_id uuid NOT NULL,
  blueprint_id uuid NOT NULL,
  version integer NOT NULL,
  name text NOT NULL,
  nodes jsonb NOT NULL,
  edges jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, blueprint_id, version),
  FOREIGN KEY (profile_id, blueprint_id) REFERENCES workflow_blueprints (profile_id, id) ON DELETE CASCADE
);

ALTER TABLE workflow_logs DROP CONSTRAINT workflow_logs_status_check;
ALTER TABLE workflow_logs
  ADD CONSTRAINT workflow_logs_status_check
    CHECK (status IN ('running', 'waiting', 'completed', 'failed', 'cancelled')),
  ADD COLUMN version integer NOT NULL DEFAULT 1,
  ADD COLUMN trigger_kind text,
  ADD COLUMN trigger_key text,
  ADD COLUMN input jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN context jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN rehearsal boolean NOT NULL DEFAULT false,
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
-- A trigger fires a run once: a redelivered event, a cron tick taken by
-- two processes, a retried webhook delivery.
CREATE UNIQUE INDEX workflow_logs_trigger ON workflow_logs (profile_id, blueprint_id, trigger_key)
  WHERE trigger_key IS NOT NULL;
CREATE INDEX workflow_logs_blueprint ON workflow_logs (profile_id, blueprint_id, started_at);
CREATE INDEX workflow_logs_open ON workflow_logs (profile_id, status)
  WHERE status IN ('running', 'waiting');
CREATE INDEX workflow_logs_finished ON workflow_logs (finished_at)
  WHERE finished_at IS NOT NULL;

-- The runnable steps of the runs: a row per node reached (per for_each item:
-- scope), deleted when the step has ended. Workers claim rows whose due_at
-- has come: ready and waiting steps at their time, running ones whose
-- worker's lease ran out.
CREATE TABLE workflow_steps (
  profile_id uuid NOT NULL,
  id uuid NOT NULL,
  run_id uuid NOT NULL,
  node_id text NOT NULL,
  scope text NOT NULL DEFAULT '',
  item jsonb,
  locals jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'waiting', 'running')),
  due_at timestamptz NOT NULL,
  claims integer NOT NULL DEFAULT 0,
  attempt integer NOT NULL DEFAULT 0,
  result_index integer,
  wake_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, run_id, node_id, scope),
  FOREIGN KEY (profile_id, run_id) REFERENCES workflow_logs (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX workflow_steps_due ON workflow_steps (due_at);
CREATE INDEX workflow_steps_running ON workflow_steps (profile_id) WHERE status = 'running';

-- Every side effect a step made, under its idempotency key (run, node,
-- scope and, for effects that may be repeated, the attempt): a resumed or
-- retried step finds its effect here and does not make it again. kind and
-- amount feed the per-workflow caps.
CREATE TABLE workflow_effects (
  profile_id uuid NOT NULL,
  key text NOT NULL,
  blueprint_id uuid NOT NULL,
  run_id uuid NOT NULL,
  node_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('message', 'invoice', 'payment', 'stock', 'record', 'http')),
  amount numeric(14,2) NOT NULL DEFAULT 0,
  result jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (profile_id, key)
);
CREATE INDEX workflow_effects_caps ON workflow_effects (profile_id, blueprint_id, kind, created_at);
