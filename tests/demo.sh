#!/usr/bin/env bash
# tests/demo.sh BINARY sqlite|postgres - `munshi demo` on a fresh database:
# it must load the sample business (four invoices, the demo credentials
# printed), and a second run must find it already there and change nothing.
set -euo pipefail
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
backend=$2
tmp=$(mktemp -d)
db_name=""
cleanup() {
  if [ -n "$db_name" ]; then psql "$MUNSHI_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS $db_name" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
export MUNSHI_JWT_SECRET=demo-test-secret-0123456789abcdefghijkl
if [ "$backend" = sqlite ]; then
  export MUNSHI_DB="sqlite:$tmp/demo.db"
else
  : "${MUNSHI_TEST_PG_URL:?MUNSHI_TEST_PG_URL is not set: run under tests/with-pg.sh}"
  db_name="munshi_demo_$$_$RANDOM"
  psql "$MUNSHI_TEST_PG_URL" -qc "CREATE DATABASE $db_name" >/dev/null
  export MUNSHI_DB="${MUNSHI_TEST_PG_URL%/*}/$db_name"
fi
cd "$tmp"
out=$("$bin" demo 2>&1)
echo "$out"
for want in "INV/26-27/0001\|INV/[0-9][0-9]-[0-9][0-9]/0001" "Sign in as demo@munshi.local" "(draft)"; do
  grep -q -- "$want" <<<"$out" || { echo "demo.sh: missing \"$want\" in the output"; exit 1; }
done
again=$("$bin" demo 2>&1)
grep -qF "already loaded" <<<"$again" || { echo "demo.sh: a second run did not find the demo"; echo "$again"; exit 1; }
echo "demo.sh[$backend]: PASS"
