-- Workflows (see the PostgreSQL twin and docs/workflows.md).

ALTER TABLE workflow_blueprints ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE workflow_blueprints ADD COLUMN active_version INTEGER;
ALTER TABLE workflow_blueprints ADD COLUMN trigger_kind TEXT CHECK (trigger_kind IN ('event', 'cron', 'webhook', 'manual'));
ALTER TABLE workflow_blueprints ADD COLUMN cron TEXT;
ALTER TABLE workflow_blueprints ADD COLUMN timezone TEXT;
ALTER TABLE workflow_blueprints ADD COLUMN next_run_at TEXT;
ALTER TABLE workflow_blueprints ADD COLUMN last_run_at TEXT;
ALTER TABLE workflow_blueprints ADD COLUMN webhook_token TEXT;
ALTER TABLE workflow_blueprints ADD COLUMN webhook_url TEXT;
ALTER TABLE workflow_blueprints ADD COLUMN explanation TEXT;
ALTER TABLE workflow_blueprints ADD COLUMN max_messages_per_hour INTEGER NOT NULL DEFAULT 500 CHECK (max_messages_per_hour >= 0);
ALTER TABLE workflow_blueprints ADD COLUMN max_money_per_day INTEGER NOT NULL DEFAULT 50000000 CHECK (max_money_per_day >= 0);
ALTER TABLE workflow_blueprints ADD COLUMN paused_reason TEXT;
ALTER TABLE workflow_blueprints ADD COLUMN paused_at TEXT;
CREATE INDEX workflow_blueprints_event ON workflow_blueprints (profile_id, trigger_event)
  WHERE is_active AND trigger_kind = 'event';
CREATE INDEX workflow_blueprints_cron ON workflow_blueprints (next_run_at)
  WHERE is_active AND trigger_kind = 'cron';
CREATE UNIQUE INDEX workflow_blueprints_webhook ON workflow_blueprints (webhook_token)
  WHERE webhook_token IS NOT NULL;

CREATE TABLE workflow_versions (
  profile_id TEXT NOT NULL,
  blueprint_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  nodes TEXT NOT NULL CHECK (json_valid(nodes)),
  edges TEXT NOT NULL CHECK (json_valid(edges)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, blueprint_id, version),
  FOREIGN KEY (profile_id, blueprint_id) REFERENCES workflow_blueprints (profile_id, id) ON DELETE CASCADE
);

-- workflow_logs gains statuses, which SQLite cannot alter in place: rebuilt.
ALTER TABLE workflow_logs RENAME TO workflow_logs_0007;
CREATE TABLE workflow_logs (
  profile_id TEXT NOT NULL,
  id TEXT NOT NULL,
  blueprint_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'running'
    CHECK (status IN ('running', 'waiting', 'completed', 'failed', 'cancelled')),
  trigger_event_id TEXT,
  step_results TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(step_results)),
  error TEXT,
  started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  finished_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  version INTEGER NOT NULL DEFAULT 1,
  trigger_kind TEXT,
  trigger_key TEXT,
  input TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(input)),
  context TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(context)),
  rehearsal INTEGER NOT NULL DEFAULT 0 CHECK (rehearsal IN (0, 1)),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  FOREIGN KEY (profile_id, blueprint_id) REFERENCES workflow_blueprints (profile_id, id) ON DELETE CASCADE
);
INSERT INTO workflow_logs (profile_id, id, blueprint_id, status, trigger_event_id,
  step_results, error, started_at, finished_at, created_at)
SELECT profile_id, id, blueprint_id, status, trigger_event_id, step_results,
  error, started_at, finished_at, created_at FROM workflow_logs_0007;
DROP TABLE workflow_logs_0007;
CREATE UNIQUE INDEX workflow_logs_trigger ON workflow_logs (profile_id, blueprint_id, trigger_key)
  WHERE trigger_key IS NOT NULL;
CREATE INDEX workflow_logs_blueprint ON workflow_logs (profile_id, blueprint_id, started_at);
CREATE INDEX workflow_logs_open ON workflow_logs (profile_id, status)
  WHERE status IN ('running', 'waiting');
CREATE INDEX workflow_logs_finished ON workflow_logs (finished_at)
  WHERE finished_at IS NOT NULL;

CREATE TABLE workflow_steps (
  profile_id TEXT NOT NULL,
  id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  scope TEXT NOT NULL DEFAULT '',
  item TEXT CHECK (item IS NULL OR json_valid(item)),
  locals TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(locals)),
  status TEXT NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'waiting', 'running')),
  due_at TEXT NOT NULL,
  claims INTEGER NOT NULL DEFAULT 0,
  attempt INTEGER NOT NULL DEFAULT 0,
  result_index INTEGER,
  wake_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, id),
  UNIQUE (profile_id, run_id, node_id, scope),
  FOREIGN KEY (profile_id, run_id) REFERENCES workflow_logs (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX workflow_steps_due ON workflow_steps (due_at);
CREATE INDEX workflow_steps_running ON workflow_steps (profile_id) WHERE status = 'running';

CREATE TABLE workflow_effects (
  profile_id TEXT NOT NULL,
  key TEXT NOT NULL,
  blueprint_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('message', 'invoice', 'payment', 'stock', 'record', 'http')),
  amount INTEGER NOT NULL DEFAULT 0,
  result TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(result)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000+00:00','now')),
  PRIMARY KEY (profile_id, key)
);
CREATE INDEX workflow_effects_caps ON workflow_effects (profile_id, blueprint_id, kind, created_at);
