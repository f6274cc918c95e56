#!/usr/bin/env bash
# run.sh - the black-box API suite: start munshi on a fresh database, run
# tests/api/*.test.mjs against it with node's test runner, stop it.
#
#   tests/api/run.sh <path-to-munshi> sqlite
#   MUNSHI_TEST_PG_URL=postgres://... tests/api/run.sh <path-to-munshi> postgres
#
# The server gets a random JWT secret, a free loopback port and a temp cwd.
# It must exit 0 on SIGTERM (a sanitizer build reports leaks with a non-zero
# exit, which fails the run). Exit status: 0 only when the server started,
# every test passed and the server stopped cleanly.
set -uo pipefail

usage() { echo "usage: $0 <path-to-munshi-binary> <sqlite|postgres>" >&2; exit 2; }
[ $# -eq 2 ] || usage
backend=$2
case "$backend" in sqlite | postgres) ;; *) usage ;; esac
[ -x "$1" ] || { echo "run.sh: $1 is not an executable" >&2; exit 2; }
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)

log() { echo "run.sh[$backend]: $*" >&2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/munshi-api.XXXXXX")
server_pid=
pg_db=
pg_admin_url=

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if [ -n "$pg_db" ]; then
    psql "$pg_admin_url" -qX -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 ||
      log "could not drop database $pg_db"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show_log() {
  echo "---- server log (last ${1:-80} lines) ----" >&2
  tail -n "${1:-80}" "$tmp/server.log" >&2
  echo "---- end of server log ----" >&2
}

# --- test dependencies ---------------------------------------------------
command -v node >/dev/null || { log "node is not installed"; exit 1; }
if [ ! -d "$here/node_modules/@supabase/supabase-js" ]; then
  log "installing test dependencies (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund) >&2 || { log "npm ci failed"; exit 1; }
fi

# --- the database ----------------------------------------------------------
case "$backend" in
sqlite)
  db_url="sqlite:$tmp/t.db"
  ;;
postgres)
  if [ -z "${MUNSHI_TEST_PG_URL:-}" ]; then
    log "FAIL: MUNSHI_TEST_PG_URL is not set; the PostgreSQL run cannot be skipped"
    log "      (tests/with-pg.sh starts a throw-away cluster and sets it)"
    exit 1
  fi
  command -v psql >/dev/null || { log "FAIL: psql is not installed"; exit 1; }
  pg_admin_url=$MUNSHI_TEST_PG_URL
  name="munshi_api_$(date +%s)_$$_$RANDOM"
  if ! psql "$pg_admin_url" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$name\"" >&2; then
    log "FAIL: cannot create database $name on MUNSHI_TEST_PG_URL"
    exit 1
  fi
  pg_db=$name
  # Same cluster and credentials, the new database as the path.
  db_url=$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.href)' \
    "$pg_admin_url" "$pg_db") || { log "FAIL: cannot parse MUNSHI_TEST_PG_URL"; exit 1; }
  ;;
esac

# --- the server --------------------------------------------------------------
port=$(node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })') ||
  { log "cannot find a free port"; exit 1; }
secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')

export MUNSHI_DB=$db_url MUNSHI_PORT=$port MUNSHI_LISTEN=127.0.0.1 MUNSHI_JWT_SECRET=$secret
unset DATABASE_URL

# The chat providers are local fakes (tests/fakes/*.mjs) that the chat tests
# start on these ports; the server sends there, never to Meta or Telegram.
# No LLM and no shared WhatsApp app: the defaults (chat_durability.test.mjs
# starts servers of its own with MUNSHI_LLM_URL or MUNSHI_WHATSAPP_APP_SECRET).
# The fakes' ports are fixed for the whole run but only listened on while a
# test file runs: they are taken below the kernel's ephemeral range (32768
# and up), so that the thousands of outgoing connections a test makes (the
# kill test's) cannot be given one of them as a local port in between
# (seen once: EADDRINUSE for the WhatsApp fake after the kill test).
free_port() { node -e '
  const net = require("net");
  const tryPort = (n) => {
    const p = 20000 + Math.floor(Math.random() * 12000), s = net.createServer();
    s.once("error", () => (n > 0 ? tryPort(n - 1) : process.exit(1)));
    s.listen(p, "127.0.0.1", () => { console.log(p); s.close(); });
  };
  tryPort(50);'; }
wa_port=$(free_port) && tg_port=$(free_port) && sr_port=$(free_port) && rzp_port=$(free_port) ||
  { log "cannot find a free port"; exit 1; }
export MUNSHI_TEST_WA_PORT=$wa_port MUNSHI_TEST_TG_PORT=$tg_port
export MUNSHI_WHATSAPP_API_URL=http://127.0.0.1:$wa_port/v21.0 MUNSHI_TELEGRAM_API_URL=http://127.0.0.1:$tg_port
# Shiprocket and Razorpay (tests/fakes/shiprocket.mjs, razorpay.mjs) the same
# way. No shared Razorpay account: the tests that need one start a server
# of their own with MUNSHI_RAZORPAY_KEY_ID and friends.
export MUNSHI_TEST_SR_PORT=$sr_port MUNSHI_TEST_RZP_PORT=$rzp_port
export MUNSHI_SHIPROCKET_API_URL=http://127.0.0.1:$sr_port/v1/external MUNSHI_RAZORPAY_API_URL=http://127.0.0.1:$rzp_port/v1
unset MUNSHI_RAZORPAY_KEY_ID MUNSHI_RAZORPAY_KEY_SECRET MUNSHI_RAZORPAY_WEBHOOK_SECRET
unset MUNSHI_WHATSAPP_APP_SECRET MUNSHI_LLM_URL MUNSHI_LLM_KEY MUNSHI_LLM_MODEL

keys=$(cd "$tmp" && "$bin" keys 2>"$tmp/keys.err") || {
  log "FAIL: '$bin keys' failed"; cat "$tmp/keys.err" >&2; exit 1
}
anon=$(printf '%s\n' "$keys" | sed -n 's/^anon:[[:space:]]*//p' | head -n1)
service=$(printf '%s\n' "$keys" | sed -n 's/^service_role:[[:space:]]*//p' | head -n1)
if [ -z "$anon" ] || [ -z "$service" ]; then
  log "FAIL: '$bin keys' did not print 'anon: <jwt>' and 'service_role: <jwt>'; it printed:"
  printf '%s\n' "$keys" >&2
  exit 1
fi

(cd "$tmp" && exec "$bin" serve) >"$tmp/server.log" 2>&1 &
server_pid=$!
url="http://127.0.0.1:$port"

ready=0
for _ in $(seq 200); do # 20 s
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid"
    log "FAIL: the server exited with status $? before answering"
    server_pid=
    show_log
    exit 1
  fi
  code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url/health" 2>/dev/null)
  if [ -n "$code" ] && [ "$code" != 000 ]; then ready=1; break; fi
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  log "FAIL: no HTTP answer on $url within 20 s"
  show_log
  exit 1
fi
log "server $server_pid on $url ($backend)"

# --- the tests ------------------------------------------------------------
# MUNSHI_BIN: http.test.mjs starts servers of its own with other limits.
export MUNSHI_URL=$url MUNSHI_ANON_KEY=$anon MUNSHI_SERVICE_KEY=$service MUNSHI_BACKEND=$backend MUNSHI_BIN=$bin
status=0
# MUNSHI_API_TESTS: some files only, e.g. "chat*.test.mjs" (default: all).
(cd "$here" && node --test --test-concurrency=1 --test-timeout=120000 ${MUNSHI_API_TESTS:-./*.test.mjs})
tests_rc=$?
if [ "$tests_rc" -ne 0 ]; then
  log "FAIL: API tests failed on $backend (node exit $tests_rc)"
  status=1
fi

# --- stop the server -----------------------------------------------------
if kill -0 "$server_pid" 2>/dev/null; then
  kill -TERM "$server_pid"
  stopped=0
  for _ in $(seq 300); do # 30 s: a sanitizer build is slow to leave
    if ! kill -0 "$server_pid" 2>/dev/null; then stopped=1; break; fi
    sleep 0.1
  done
  if [ "$stopped" != 1 ]; then
    log "FAIL: the server did not stop within 30 s of SIGTERM"
    kill -KILL "$server_pid" 2>/dev/null
    status=1
  fi
  wait "$server_pid"
  server_rc=$?
else
  wait "$server_pid"
  server_rc=$?
  log "FAIL: the server died during the tests"
  status=1
fi
server_pid=
if [ "$server_rc" -ne 0 ]; then
  log "FAIL: the server exited with status $server_rc (a sanitizer report or a crash?)"
  status=1
fi
if [ "$status" -ne 0 ]; then show_log 80; fi

if [ "$status" -eq 0 ]; then log "PASS"; fi
exit "$status"
