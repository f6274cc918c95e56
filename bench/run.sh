#!/usr/bin/env bash
# bench/run.sh - loads a running munshi with wrk on loopback and reports
# requests/s and p99 latency per backend and scenario (docs/performance.md).
#
# For each backend it starts build/munshi on a free 127.0.0.1 port with a
# fresh database (SQLite: a file in a temporary directory; PostgreSQL: a new
# database in the throw-away cluster of tests/with-pg.sh), signs up one user,
# sets its business's state (27), creates 1,000 customers through bulk POSTs
# and three products with 10,000,000 units of stock each, checks each
# scenario answers 2xx, then runs every scenario BENCH_RUNS times and keeps
# the medians.
#
# Scenarios: get_one (one customer by id), get_50 (a filtered, ordered page),
# post_one (insert a customer), create_invoice (rpc: an issued GST invoice of
# 3 lines), record_payment (rpc: a payment of 1.00 to one of the customers),
# chat_webhooks (signed inbound WhatsApp webhooks → stored → the agent's reply
# queued; bench/chat.sh, which also starts a WhatsApp fake for the replies),
# workflows (customer.created → condition → send_message, every step
# persisted: runs/s, p99 from event to completed, server RSS;
# bench/workflows.sh), realtime (1,000 WebSocket subscribers and a stream
# of changes to their rows: deliveries/s, p95 from commit to client, KB per
# idle socket; bench/realtime.sh with the load client build/rtload),
# invoice_pdf (GET /invoices/<id>.pdf of a 3-line invoice with its UPI QR,
# rendered afresh each time: PDFs/s).
#
# Environment (defaults in brackets):
#   BENCH_DURATION     wrk -d per run [10s]
#   BENCH_CONNECTIONS  wrk -c [32]
#   BENCH_WRK_THREADS  wrk -t [2]
#   BENCH_RUNS         runs per scenario; the median is reported [3]
#   BENCH_BACKENDS     [sqlite postgres]
#   BENCH_SCENARIOS    [get_one get_50 post_one create_invoice record_payment invoice_pdf chat_webhooks workflows realtime payment_webhooks]
#   BENCH_PAY_PAIRS, BENCH_PAY_LINKS: see bench/paywebhooks.sh
#   BENCH_CHAT_MESSAGES, BENCH_CHAT_DRAIN: see bench/chat.sh
#   BENCH_WF_CLIENTS, BENCH_WF_DRAIN: see bench/workflows.sh
#   BENCH_RT_SOCKETS, BENCH_RT_TENANTS, BENCH_RT_RATES, ...: see bench/realtime.sh
#   BENCH_PRELOAD_INVOICES  PostgreSQL only: paid invoices (3 lines each)
#                      written by SQL before the runs, so the operations run
#                      against a database that already holds that many [0]
#   MUNSHI_BIN         the server binary [build/munshi]
#   MUNSHI_THREADS     passed through to the server (its worker pool size)
#
# Results: a table on stdout and bench/results/latest.md (with the raw runs).
set -euo pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-32}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
RUNS=${BENCH_RUNS:-3}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
SCENARIOS=${BENCH_SCENARIOS:-get_one get_50 post_one create_invoice record_payment invoice_pdf chat_webhooks workflows realtime payment_webhooks}
BIN=${MUNSHI_BIN:-$ROOT/build/munshi}
[[ "$BIN" == /* ]] || BIN="$ROOT/$BIN"
SEED_CUSTOMERS=1000
SEED_BATCH=100
SEED_STOCK=10000000
PRELOAD=${BENCH_PRELOAD_INVOICES:-0}

die() { echo "bench: $*" >&2; exit 1; }

command -v wrk >/dev/null || die "wrk is not installed (make deps-bench)"
command -v curl >/dev/null || die "curl is not installed (make deps-bench)"
[ -x "$BIN" ] || die "no server binary at $BIN (make build)"

# PostgreSQL needs a cluster: run the whole benchmark inside the throw-away
# one that tests/with-pg.sh starts (it sets MUNSHI_TEST_PG_URL).
if [[ " $BACKENDS " == *" postgres "* && -z "${MUNSHI_TEST_PG_URL:-}" ]]; then
  exec "$ROOT/tests/with-pg.sh" "$ROOT/bench/run.sh" "$@"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/munshi-bench.XXXXXX")
SERVER_PID=
PG_DB=

cleanup() {
  chat_fake_stop
  pay_fake_stop
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$PG_DB" ]; then
    psql "$MUNSHI_TEST_PG_URL" -qX -c "DROP DATABASE IF EXISTS $PG_DB" \
      >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody listens on (bash's /dev/tcp: a refused connect means free).
free_port() {
  local p i
  for i in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

# The URL of database $2 on the server of URL $1 (query string kept).
pg_url_with_db() {
  local url=$1 db=$2 query="" rest
  if [[ "$url" == *\?* ]]; then query="?${url#*\?}"; url=${url%%\?*}; fi
  rest=${url#*://}
  if [[ "$rest" == */* ]]; then
    echo "${url%/*}/$db$query"
  else
    echo "$url/$db$query"
  fi
}

# curl wrapper: prints the body, fails unless the status is 2xx.
# usage: api METHOD PATH [BODY] [extra curl args...]
api() {
  local method=$1 path=$2 body=${3:-} out status
  shift 3 || shift $#
  out="$TMP/resp"
  local args=(-sS -o "$out" -w '%{http_code}' -X "$method"
              -H "apikey: $ANON" -H "Content-Type: application/json")
  [ -n "${TOKEN:-}" ] && args+=(-H "Authorization: Bearer $TOKEN")
  [ -n "$body" ] && args+=(--data-binary "$body")
  status=$(curl "${args[@]}" "$@" "$BASE$path") || die "$method $path: curl failed"
  if [[ "$status" != 2?? ]]; then
    echo "bench: $method $path answered $status:" >&2
    head -c 2000 "$out" >&2
    echo >&2
    return 1
  fi
  cat "$out"
}

json_field() { # json_field NAME < json: first string value of "NAME"
  sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p" | head -n 1
}

start_server() { # start_server DB_URL
  local port
  port=$(free_port)
  BASE="http://127.0.0.1:$port"
  # cwd: the temporary directory, so nothing lands in the repository's data/.
  (cd "$TMP" && MUNSHI_DB=$1 DATABASE_URL='' MUNSHI_PORT=$port \
    MUNSHI_LISTEN=127.0.0.1 MUNSHI_JWT_SECRET=$SECRET \
    MUNSHI_MAX_CONNECTIONS=${BENCH_MAX_CONNECTIONS:-4096} MUNSHI_MAX_CONNECTIONS_PER_IP=0 \
    MUNSHI_REALTIME_MAX_SOCKETS_PER_USER=${BENCH_RT_PER_USER:-100000} \
    MUNSHI_WHATSAPP_API_URL=${CHAT_WA_URL:-} MUNSHI_RAZORPAY_API_URL=${PAY_RZP_URL:-} \
    MUNSHI_LOG=${MUNSHI_LOG:-warn} exec "$BIN" serve) >"$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 1 150); do
    if curl -s -o /dev/null -m 2 "$BASE/health" 2>/dev/null; then
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.2
  done
  cat "$TMP/server.log" >&2
  die "the server did not start on $BASE"
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# Signs up a user, sets its state, creates the seed customers and products;
# sets TOKEN, CUSTOMER_ID, CUSTOMER_IDS and PRODUCT_IDS (comma-separated).
seed() {
  local resp email i j batch sep n50 user_id
  TOKEN=
  email="bench-$RANDOM$RANDOM@example.com"
  resp=$(api POST /auth/v1/signup \
    "{\"email\":\"$email\",\"password\":\"bench-password-1\",\"data\":{\"business_name\":\"Bench Traders\"}}")
  TOKEN=$(json_field access_token <<<"$resp")
  [ -n "$TOKEN" ] || die "signup answered no access_token: $resp"
  user_id=$(api GET /auth/v1/user | json_field id)
  [ -n "$user_id" ] || die "could not read the user's id"
  # Invoices need the business's state (GST: intra- or inter-state).
  api PATCH "/rest/v1/profiles?id=eq.$user_id" '{"state_code":"27","upi_id":"bench@upi"}' >/dev/null \
    || die "could not set the profile's state_code"

  for ((i = 0; i < SEED_CUSTOMERS; i += SEED_BATCH)); do
    batch="["
    sep=""
    for ((j = i; j < i + SEED_BATCH && j < SEED_CUSTOMERS; j++)); do
      # Every other customer is in state 27, so get_50 always fills its page.
      local st=27
      ((j % 2)) && st=$(printf '%02d' $((j % 3 == 0 ? 29 : 24)))
      batch+="$sep{\"full_name\":\"Customer $(printf '%04d' $((SEED_CUSTOMERS - j)))\",\"phone_number\":\"+8$(printf '%011d' "$j")\",\"state_code\":\"$st\"}"
      sep=","
    done
    batch+="]"
    api POST /rest/v1/customers "$batch" -H "Prefer: return=minimal" >/dev/null \
      || die "bulk insert of customers failed"
  done

  resp=$(api GET "/rest/v1/customers?select=id&order=id.asc&limit=1&offset=$((SEED_CUSTOMERS / 2))")
  CUSTOMER_ID=$(json_field id <<<"$resp")
  [ -n "$CUSTOMER_ID" ] || die "could not read a customer id: $resp"
  CUSTOMER_IDS=$(api GET "/rest/v1/customers?select=id&limit=$SEED_CUSTOMERS" \
    | grep -o '"id" *: *"[^"]*"' | cut -d'"' -f4 | paste -sd, -)
  [ "$(tr ',' '\n' <<<"$CUSTOMER_IDS" | grep -c .)" -eq "$SEED_CUSTOMERS" ] \
    || die "could not read the $SEED_CUSTOMERS customer ids"

  # Three products at three GST rates, stocked for any number of invoices.
  api POST /rest/v1/products \
    '[{"name":"Basmati rice 5 kg","sku":"B-RICE","hsn_code":"1006","unit":"bag","gst_rate":5,"base_price":450.00,"current_stock":'"$SEED_STOCK"'},
      {"name":"Steel bottle","sku":"B-BOTTLE","hsn_code":"7323","unit":"pcs","gst_rate":18,"base_price":299.99,"current_stock":'"$SEED_STOCK"'},
      {"name":"Cement 50 kg","sku":"B-CEMENT","hsn_code":"25232930","unit":"bag","gst_rate":28,"base_price":415.35,"current_stock":'"$SEED_STOCK"'}]' \
    -H "Prefer: return=minimal" >/dev/null || die "could not create the products"
  PRODUCT_IDS=$(api GET "/rest/v1/products?select=id&sku=like.B-*&order=sku.asc" \
    | grep -o '"id" *: *"[^"]*"' | cut -d'"' -f4 | paste -sd, -)
  [ "$(tr ',' '\n' <<<"$PRODUCT_IDS" | grep -c .)" -eq 3 ] \
    || die "could not read the product ids"

  resp=$(api GET "/rest/v1/customers?select=id,full_name,phone_number,total_debt&state_code=eq.27&order=full_name.asc&limit=50")
  n50=$(grep -o '"id"' <<<"$resp" | wc -l)
  [ "$n50" -eq 50 ] || die "get_50 returns $n50 rows, not 50"
}

# PostgreSQL: PRELOAD paid invoices of three lines each, spread over the
# customers and the last 200 days, written straight into the database (the
# API would take minutes): a business with a history, for the question of
# whether the operations stay fast as the tables grow.
preload() { # preload DB_URL
  local user_id
  user_id=$(api GET /auth/v1/user | json_field id)
  psql "$1" -qX -v ON_ERROR_STOP=1 -v pid="$user_id" -v n="$PRELOAD" <<'SQL' >/dev/null
CREATE TEMP TABLE pre AS
  SELECT g.i, gen_random_uuid() AS id, c.id AS customer_id
  FROM generate_series(1, :n) g(i)
  JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k,
               count(*) OVER () AS cnt
        FROM customers WHERE profile_id = :'pid') c ON c.k = g.i % c.cnt;
INSERT INTO invoices (profile_id, id, customer_id, invoice_number,
  invoice_date, place_of_supply, status, subtotal, cgst_amount, sgst_amount,
  igst_amount, round_off, total_amount, amount_paid, balance_due, issued_at)
SELECT :'pid', id, customer_id, 'PRE/' || lpad(i::text, 8, '0'),
  current_date - (i % 200), '27', 'paid', 1000, 90, 90, 0, 0, 1180, 1180, 0,
  now() - (i % 200) * interval '1 day'
FROM pre;
INSERT INTO invoice_items (profile_id, id, invoice_id, product_id, line_no,
  description, quantity, unit_price, taxable_value, gst_rate, cgst_amount,
  sgst_amount, line_total)
SELECT :'pid', gen_random_uuid(), pre.id, p.id, p.k, p.name, 1, 333.33,
  333.33, 18, 30, 30, 393.33
FROM pre CROSS JOIN (SELECT id, name, row_number() OVER (ORDER BY id) AS k
                     FROM products WHERE profile_id = :'pid') p;
SQL
}

# One request of each scenario by curl, so a 401 or 404 stops us before wrk.
probe() {
  api GET "/rest/v1/customers?id=eq.$CUSTOMER_ID" >/dev/null \
    || die "get_one probe failed"
  api POST /rest/v1/customers \
    '{"full_name":"Probe","phone_number":"+70000000000","state_code":"29"}' \
    -H "Prefer: return=minimal" >/dev/null || die "post_one probe failed"
  api POST /rest/v1/rpc/create_invoice \
    "{\"customer_id\":\"$CUSTOMER_ID\",\"items\":[{\"product_id\":\"${PRODUCT_IDS%%,*}\",\"quantity\":1}]}" \
    >/dev/null || die "create_invoice probe failed"
  api POST /rest/v1/rpc/record_payment \
    "{\"customer_id\":\"$CUSTOMER_ID\",\"amount_received\":1.00,\"payment_mode\":\"upi\"}" \
    >/dev/null || die "record_payment probe failed"
  # invoice_pdf: a 3-line invoice (one product each) to render again and again.
  local items i=0 p
  items=""
  for p in ${PRODUCT_IDS//,/ }; do
    items+="${items:+,}{\"product_id\":\"$p\",\"quantity\":$((++i))}"
  done
  api POST /rest/v1/rpc/create_invoice "{\"customer_id\":\"$CUSTOMER_ID\",\"items\":[$items]}" \
    >/dev/null || die "invoice_pdf probe: create_invoice failed"
  INVOICE_ID=$(api GET "/rest/v1/invoices?select=id&order=created_at.desc,id.desc&limit=1" | json_field id)
  api GET "/invoices/$INVOICE_ID.pdf" >/dev/null || die "invoice_pdf probe failed"
}

count_rows() { # count_rows TABLE: the tenant's rows, from Content-Range: 0-0/N
  curl -sS -o /dev/null -D - -H "apikey: $ANON" -H "Authorization: Bearer $TOKEN" \
    -H 'Prefer: count=exact' "$BASE/rest/v1/$1?select=id&limit=1" \
    | tr -d '\r' | sed -n 's|^[Cc]ontent-[Rr]ange: .*/\([0-9][0-9]*\)$|\1|p'
}
count_customers() { count_rows customers; }

median() { # median of the arguments (the lower middle for an even count)
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

field() { # field NAME LINE: the value of NAME=... in a RESULT line
  sed -n "s/.*[[:space:]]$1=\\([^[:space:]]*\\).*/\\1/p" <<<" $2"
}

# shellcheck source=bench/chat.sh
. "$ROOT/bench/chat.sh"
# shellcheck source=bench/paywebhooks.sh
. "$ROOT/bench/paywebhooks.sh"
# shellcheck source=bench/workflows.sh
. "$ROOT/bench/workflows.sh"
# shellcheck source=bench/realtime.sh
. "$ROOT/bench/realtime.sh"

SECRET="bench-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
ANON=$(cd "$TMP" && MUNSHI_JWT_SECRET=$SECRET "$BIN" keys | awk '/^anon:/ { print $2 }')
[ -n "$ANON" ] || die "'munshi keys' printed no anon key"
export BENCH_DIR="$ROOT/bench" BENCH_ANON="$ANON"

WRK_CMD="wrk -t$WRK_THREADS -c$CONNS -d$DURATION --latency -s bench/<scenario>.lua http://127.0.0.1:<port> -- <run>"
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
CORES=$(nproc)
STAMP=$(date -u '+%Y-%m-%d %H:%M UTC')
VERSION=$("$BIN" version 2>/dev/null | head -n 1 || true)

RESULTS=()   # "backend scenario rps p99 non2xx socket_errors"
RAW=()       # one line per wrk run
NOTES=()     # one line per backend: version and durability settings
WARN=0

echo "munshi bench: $CORES cores ($CPU); $RUNS x $DURATION per scenario, -c$CONNS -t$WRK_THREADS"

for backend in $BACKENDS; do
  case $backend in
    sqlite)
      db_url="sqlite:$TMP/bench.db"
      NOTES+=("sqlite: SQLite $(sed -n 's/^#define SQLITE_VERSION[[:space:]]*"\(.*\)"/\1/p' /usr/include/sqlite3.h 2>/dev/null), WAL, the file in ${TMPDIR:-/tmp} ($(df -PT "$TMP" | awk 'NR == 2 { print $2 }'))")
      ;;
    postgres)
      PG_DB="munshi_bench_$$"
      psql "$MUNSHI_TEST_PG_URL" -qX -v ON_ERROR_STOP=1 \
        -c "CREATE DATABASE $PG_DB" >/dev/null
      NOTES+=("postgres: PostgreSQL $(psql "$MUNSHI_TEST_PG_URL" -qXAt -c 'SHOW server_version'), fsync=$(psql "$MUNSHI_TEST_PG_URL" -qXAt -c 'SHOW fsync'), synchronous_commit=$(psql "$MUNSHI_TEST_PG_URL" -qXAt -c 'SHOW synchronous_commit') (the throw-away cluster of tests/with-pg.sh)")
      db_url=$(pg_url_with_db "$MUNSHI_TEST_PG_URL" "$PG_DB")
      ;;
    *) die "unknown backend '$backend' (sqlite or postgres)" ;;
  esac

  POSTS=0 INVOICES=0 PAYMENTS=0
  [[ " $SCENARIOS " == *" chat_webhooks "* || " $SCENARIOS " == *" workflows "* ]] && chat_fake_start
  [[ " $SCENARIOS " == *" payment_webhooks "* ]] && pay_fake_start
  start_server "$db_url"
  echo "[$backend] server on $BASE; seeding $SEED_CUSTOMERS customers"
  seed
  if [ "$PRELOAD" -gt 0 ]; then
    [ "$backend" = postgres ] || die "BENCH_PRELOAD_INVOICES is for postgres only"
    echo "[$backend] preloading $PRELOAD invoices"
    preload "$db_url"
  fi
  probe
  [ -n "$(count_customers)" ] || die "no total in Content-Range with Prefer: count=exact"
  export BENCH_TOKEN="$TOKEN" BENCH_CUSTOMER_ID="$CUSTOMER_ID" \
    BENCH_CUSTOMER_IDS="$CUSTOMER_IDS" BENCH_PRODUCT_IDS="$PRODUCT_IDS" \
    BENCH_INVOICE_ID="$INVOICE_ID"

  run_no=0
  rows_before=$(count_customers)
  invoices_before=$(count_rows invoices)
  payments_before=$(count_rows payments)
  for sc in $SCENARIOS; do
    if [ "$sc" = chat_webhooks ]; then chat_scenario "$backend"; continue; fi
    if [ "$sc" = workflows ]; then wf_scenario "$backend" "$db_url"; continue; fi
    if [ "$sc" = realtime ]; then rt_scenario "$backend"; continue; fi
    if [ "$sc" = payment_webhooks ]; then pay_scenario "$backend"; continue; fi
    [ -f "bench/$sc.lua" ] || die "no scenario bench/$sc.lua"
    rps_list=() p99_list=() bad=0 sock=0
    for ((r = 1; r <= RUNS; r++)); do
      run_no=$((run_no + 1))
      out="$TMP/wrk-$backend-$sc-$r.txt"
      wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency \
        -s "bench/$sc.lua" "$BASE" -- "$run_no" >"$out" 2>&1 \
        || { cat "$out" >&2; die "wrk failed ($backend $sc)"; }
      line=$(grep '^RESULT ' "$out" | tail -n 1) \
        || { cat "$out" >&2; die "wrk printed no RESULT line ($backend $sc)"; }
      rps=$(field rps "$line")
      p99=$(field p99_ms "$line")
      rps_list+=("$rps")
      p99_list+=("$p99")
      bad=$((bad + $(field non2xx "$line")))
      answered=$(( $(field requests "$line") - $(field non2xx "$line") ))
      case $sc in
        post_one) POSTS=$((POSTS + answered)) ;;
        create_invoice) INVOICES=$((INVOICES + answered)) ;;
        record_payment) PAYMENTS=$((PAYMENTS + answered)) ;;
      esac
      sock=$((sock + $(field socket_errors "$line")))
      RAW+=("$backend $sc run $r: ${line#RESULT }")
      printf '  %-8s %-14s run %d: %10s req/s  p99 %8s ms\n' "$backend" "$sc" "$r" "$rps" "$p99"
    done
    RESULTS+=("$backend $sc $(median "${rps_list[@]}") $(median "${p99_list[@]}") $bad $sock")
    if [ "$bad" -ne 0 ] || [ "$sock" -ne 0 ]; then
      WARN=1
      echo "  WARNING: $backend $sc: $bad non-2xx responses, $sock socket errors" >&2
      tail -n 20 "$TMP/server.log" >&2 || true
    fi
  done

  # Every answered POST must have left a row (wrk does not count requests
  # still in flight when it stops, so there may be a few more rows).
  rows_added=$(( $(count_customers) - rows_before ))
  RAW+=("$backend: customers added during the runs: $rows_added; POSTs answered: $POSTS")
  if [ "$rows_added" -lt "$POSTS" ]; then
    WARN=1
    echo "  WARNING: $backend: $POSTS POSTs answered 2xx but only $rows_added rows were added" >&2
  fi
  # The same for the business operations: an answered invoice or payment
  # must be in the books.
  invoices_added=$(( $(count_rows invoices) - invoices_before ))
  payments_added=$(( $(count_rows payments) - payments_before ))
  RAW+=("$backend: invoices added: $invoices_added, create_invoice answered: $INVOICES; payments added: $payments_added, record_payment answered: $PAYMENTS")
  if [ "$invoices_added" -lt "$INVOICES" ] || [ "$payments_added" -lt "$PAYMENTS" ]; then
    WARN=1
    echo "  WARNING: $backend: answered invoices/payments missing from the books ($invoices_added/$INVOICES, $payments_added/$PAYMENTS)" >&2
  fi

  stop_server
  chat_fake_stop
  pay_fake_stop
  if [ "$backend" = postgres ]; then
    psql "$MUNSHI_TEST_PG_URL" -qX -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
    PG_DB=
  fi
done

table() {
  printf '| %-8s | %-14s | %10s | %8s | %7s | %13s |\n' backend scenario 'req/s' 'p99 ms' non-2xx 'socket errors'
  printf '|----------|----------------|-----------:|---------:|--------:|--------------:|\n'
  local row
  for row in "${RESULTS[@]}"; do
    # shellcheck disable=SC2086
    set -- $row
    printf '| %-8s | %-14s | %10.0f | %8.2f | %7s | %13s |\n' "$1" "$2" "$3" "$4" "$5" "$6"
  done
}

echo
echo "medians of $RUNS run(s), $DURATION each, $CONNS connections, wrk -t$WRK_THREADS, $CORES cores shared by wrk and the server"
table
if [ ${#CHAT_RESULTS[@]} -gt 0 ]; then echo; echo "chat webhooks (medians):"; chat_table; fi
if [ ${#WF_RESULTS[@]} -gt 0 ]; then echo; echo "workflows (medians):"; wf_table; fi
if [ ${#PAY_RESULTS[@]} -gt 0 ]; then echo; echo "payment webhooks (medians):"; pay_table; fi
if [ ${#RT_RESULTS[@]} -gt 0 ]; then echo; echo "realtime, $RT_SOCKETS WebSockets of $RT_TENANTS tenants (medians):"; rt_table; fi
[ "$WARN" -eq 0 ] || echo "WARNING: some requests failed; the numbers above are not clean" >&2

mkdir -p bench/results
{
  echo "# munshi bench, $STAMP"
  echo
  echo "- server: ${VERSION:-munshi} ($BIN), worker threads: ${MUNSHI_THREADS:-default (one per core)}"
  echo "- machine: $CORES cores, $CPU; wrk and the server share them, over loopback"
  echo "- wrk: \`$WRK_CMD\`"
  echo "- runs: $RUNS per scenario, $DURATION each; the table shows medians"
  echo "- data: one tenant in state 27, $SEED_CUSTOMERS customers seeded by bulk POST (half of them in state 27), 3 products (GST 5%, 18%, 28%) with $SEED_STOCK units each; $PRELOAD invoices preloaded (PostgreSQL)"
  printf -- '- %s\n' "${NOTES[@]}"
  echo
  table
  echo
  if [ ${#CHAT_RESULTS[@]} -gt 0 ]; then
    echo "Chat webhooks ($CHAT_N signed messages generated per run; processed = the agent's replies appearing):"
    echo
    chat_table
    echo
  fi
  if [ ${#WF_RESULTS[@]} -gt 0 ]; then
    echo "Workflows (customer.created → condition → ${WF_GRAPH/send/send_message}; runs/s and latency from the event to the run's end, from the database):"
    echo
    wf_table
    echo
  fi
  if [ ${#PAY_RESULTS[@]} -gt 0 ]; then
    echo "Payment webhooks (signed Razorpay webhooks, two per distinct payment — payment_link.partially_paid and payment.captured — each payment recorded once; $PAY_PAIRS payments generated per run, spread over $PAY_LINKS payment links):"
    echo
    pay_table
    echo
  fi
  if [ ${#RT_RESULTS[@]} -gt 0 ]; then
    echo "Realtime ($RT_SOCKETS WebSockets on one server, $RT_TENANTS tenants, each watching every change of customers; $RT_WRITERS writers POST customers at the rate shown; latency from commit_timestamp to receipt, and from the writer's clock to receipt):"
    echo
    rt_table
    echo
  fi
  echo "non-2xx counts responses with status >= 400 (wrk's own count), summed over the runs."
  echo
  echo "## Raw runs"
  echo
  echo '```'
  printf '%s\n' "${RAW[@]}"
  echo '```'
} >bench/results/latest.md
echo "written: bench/results/latest.md"
