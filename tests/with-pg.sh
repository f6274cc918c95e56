#!/usr/bin/env bash
# tests/with-pg.sh CMD [ARGS...] - runs CMD with MUNSHI_TEST_PG_URL set to a
# throw-away PostgreSQL cluster, removes the cluster afterwards and exits with
# CMD's exit code.
#
# Tests must never skip PostgreSQL for want of a server, so this script makes
# one: with pg_virtualenv (postgresql-common) when it is installed, else with
# the server's own initdb in a private directory, listening only on a unix
# socket there. pg_virtualenv runs with -t so even as root the cluster lives
# in a temporary directory (not /etc/postgresql/*/regress, which allows only
# one at a time), and on a random free port, so several runs can overlap.
# MUNSHI_PG_HARNESS=initdb forces the fallback (to test it).
set -u

if [ "${1:-}" = "--inner" ]; then
  # Called back by pg_virtualenv inside the environment it made.
  marker=$2
  shift 2
  : >"$marker"
  urlencode() {
    local s=$1 out='' c i h
    for ((i = 0; i < ${#s}; i++)); do
      c=${s:i:1}
      case $c in
        [a-zA-Z0-9._~-]) out+=$c ;;
        *) printf -v h '%%%02X' "'$c"; out+=$h ;;
      esac
    done
    printf '%s' "$out"
  }
  MUNSHI_TEST_PG_URL="postgres://$(urlencode "$PGUSER"):$(urlencode "$PGPASSWORD")@${PGHOST}:${PGPORT}/$(urlencode "$PGDATABASE")"
  export MUNSHI_TEST_PG_URL
  exec "$@"
fi

if [ $# -lt 1 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

# A port nobody listens on (bash's /dev/tcp connects when something does).
free_port() {
  local p i
  for ((i = 0; i < 50; i++)); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
initdb_opts="-E UTF8 --locale=C.UTF-8"

if command -v pg_virtualenv >/dev/null 2>&1 &&
  [ "${MUNSHI_PG_HARNESS:-}" != "initdb" ]; then
  # pg_virtualenv passes CMD's exit code through, but it also fails when it
  # cannot make the cluster (say, the port was taken between our check and
  # its start); the marker tells the two apart, and only the second is
  # retried.
  marker=$(mktemp -u /tmp/munshi-with-pg.XXXXXX)
  for attempt in 1 2 3; do
    port=$(free_port) || break
    PGPORT=$port pg_virtualenv -t -i "$initdb_opts" -o log_min_messages=fatal -o log_min_error_statement=panic "$self" --inner "$marker" "$@"
    rc=$?
    if [ -e "$marker" ]; then
      rm -f "$marker"
      exit "$rc"
    fi
    echo "with-pg.sh: pg_virtualenv could not start a cluster (try $attempt)" >&2
  done
  echo "with-pg.sh: falling back to initdb" >&2
fi

# Fallback: initdb + pg_ctl in a private directory.
bindir=""
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
  bindir=$(pg_config --bindir)
fi
if [ -z "$bindir" ]; then
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "with-pg.sh: no PostgreSQL server found (install postgresql)" >&2
  exit 2
fi

dir=$(mktemp -d /tmp/munshi-pg.XXXXXX)
as_owner() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  # The server refuses to run as root.
  chown postgres: "$dir"
  as_owner() { runuser -u postgres -- "$@"; }
fi

cleanup() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$dir/pwfile"
[ "$(id -u)" = 0 ] && chown postgres: "$dir/pwfile"
if ! as_owner "$bindir/initdb" -D "$dir/data" -U munshi --pwfile="$dir/pwfile" \
  -A scram-sha-256 $initdb_opts --no-sync >"$dir/initdb.log" 2>&1; then
  cat "$dir/initdb.log" >&2
  exit 2
fi
port=$(free_port) || { echo "with-pg.sh: no free port" >&2; exit 2; }
if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories='$dir' -p $port -c fsync=off" \
  start >/dev/null; then
  cat "$dir/server.log" >&2
  exit 2
fi

export MUNSHI_TEST_PG_URL="postgres://munshi:${password}@/postgres?host=${dir}&port=${port}"
"$@"
rc=$?
if [ "$rc" != 0 ] && [ -f "$dir/server.log" ]; then
  echo "*** server log (last 50 lines) ***" >&2
  tail -50 "$dir/server.log" >&2
fi
exit "$rc"
