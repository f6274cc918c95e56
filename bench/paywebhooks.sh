# bench/paywebhooks.sh - the payment_webhooks scenario of bench/run.sh
# (sourced by it): signed Razorpay webhooks for distinct payments, posted by
# wrk at full speed to /webhooks/razorpay/<integration id>, each payment
# sent twice (payment_link.partially_paid and payment.captured, two event
# ids; bench/pay_gen.mjs), and recorded as one payment through
# record_payment. The Razorpay fake (tests/fakes/razorpay.mjs) serves the
# payment links made in the setup.
#
# The figure is webhooks/s (wrk's answered rate) with each payment recorded
# once: after each run the payments added are counted and must be half the
# webhooks answered (within the requests in flight when wrk stops); a
# payment recorded twice, or not at all, is a warning.
#
#   BENCH_PAY_PAIRS  payments generated per run (two webhooks each) [40000]
#   BENCH_PAY_LINKS  open invoices with a payment link the payments go to [50]

PAY_PAIRS=${BENCH_PAY_PAIRS:-40000}
PAY_LINKS=${BENCH_PAY_LINKS:-50}
PAY_RESULTS=() # "backend rps p99 answered recorded non2xx socket_errors"
PAY_FAKE_PID=
PAY_RZP_URL=

pay_fake_start() { # the Razorpay fake the server makes links with
  local port
  port=$(free_port)
  node "$ROOT/tests/fakes/razorpay.mjs" --port "$port" --key-id rzp_test_bench \
    --key-secret bench-key-secret >"$TMP/rzp-fake.log" 2>&1 &
  PAY_FAKE_PID=$!
  local i
  for i in $(seq 1 50); do
    if grep -q 'razorpay fake on' "$TMP/rzp-fake.log"; then
      PAY_RZP_URL="http://127.0.0.1:$port/v1"
      return 0
    fi
    sleep 0.1
  done
  cat "$TMP/rzp-fake.log" >&2
  die "the Razorpay fake did not start"
}

pay_fake_stop() {
  if [ -n "$PAY_FAKE_PID" ]; then
    kill "$PAY_FAKE_PID" 2>/dev/null || true
    wait "$PAY_FAKE_PID" 2>/dev/null || true
    PAY_FAKE_PID=
  fi
}

pay_setup() { # after seed(): the integration, PAY_LINKS invoices with links
  PAY_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  local resp i cust product inv
  resp=$(api POST /rest/v1/integrations \
    "{\"provider\":\"razorpay\",\"key_id\":\"rzp_test_bench\",\"key_secret\":\"bench-key-secret\",\"webhook_secret\":\"$PAY_SECRET\"}" \
    -H 'Prefer: return=representation') || die "could not create the razorpay integration"
  PAY_INTEG=$(json_field id <<<"$resp")
  [ -n "$PAY_INTEG" ] || die "no integration id in: $resp"
  export BENCH_PAY_PATH="/webhooks/razorpay/$PAY_INTEG"
  product=${PRODUCT_IDS%%,*}
  : >"$TMP/pay-refs.txt"
  IFS=, read -r -a custs <<<"$CUSTOMER_IDS"
  for ((i = 0; i < PAY_LINKS && i < ${#custs[@]}; i++)); do
    cust=${custs[$i]}
    # A large invoice, so that ₹1.00 payments keep it open for the whole run.
    resp=$(api POST /rest/v1/rpc/create_invoice \
      "{\"customer_id\":\"$cust\",\"items\":[{\"product_id\":\"$product\",\"quantity\":1,\"unit_price\":9000000}]}") \
      || die "create_invoice for the payment links failed"
    # The invoice's own id: the first "id" (its items have ids too).
    inv=$(grep -o '"id" *: *"[^"]*"' <<<"$resp" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')
    resp=$(api POST /rest/v1/rpc/create_payment_link "{\"invoice_id\":\"$inv\"}") \
      || die "create_payment_link failed (is the Razorpay fake reachable?)"
    json_field reference_id <<<"$resp" >>"$TMP/pay-refs.txt"
  done
  # One signed pair: both must answer 200 before wrk runs.
  node "$ROOT/bench/pay_gen.mjs" --out "$TMP/pay-probe.txt" --pairs 1 --run 0 \
    --refs "$TMP/pay-refs.txt" --secret "$PAY_SECRET" || die "pay_gen failed"
  local sig id body status
  while IFS=$'\t' read -r sig id body; do
    status=$(curl -sS -o "$TMP/resp" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      -H "X-Razorpay-Signature: $sig" -H "x-razorpay-event-id: $id" --data-binary "$body" "$BASE$BENCH_PAY_PATH")
    [ "$status" = 200 ] || { cat "$TMP/resp" >&2; die "the signed payment webhook probe answered $status"; }
  done <"$TMP/pay-probe.txt"
}

pay_run() { # pay_run BACKEND RUN RUN_NO: one wrk run and its check; sets PAY_LINE
  local backend=$1 r=$2 run_no=$3 file="$TMP/pay-$run_no.txt" out="$TMP/wrk-$backend-pay-$r.txt"
  node "$ROOT/bench/pay_gen.mjs" --out "$file" --pairs "$PAY_PAIRS" --run "$run_no" \
    --refs "$TMP/pay-refs.txt" --secret "$PAY_SECRET" || die "pay_gen failed"
  local p0
  p0=$(count_rows payments)
  wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/payment_webhooks.lua "$BASE" \
    -- "$file" "$WRK_THREADS" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed ($backend payment_webhooks)"; }
  sleep 1 # requests in flight when wrk stopped
  local line requests non2xx answered recorded
  line=$(grep '^RESULT ' "$out" | tail -n 1) || { cat "$out" >&2; die "wrk printed no RESULT line"; }
  requests=$(field requests "$line")
  non2xx=$(field non2xx "$line")
  answered=$((requests - non2xx))
  recorded=$(( $(count_rows payments) - p0 ))
  if [ "$requests" -gt $((2 * PAY_PAIRS)) ]; then
    WARN=1
    echo "  WARNING: wrk sent $requests requests, more than the $((2 * PAY_PAIRS)) generated: raise BENCH_PAY_PAIRS" >&2
  fi
  # Two webhooks per payment: recorded*2 = answered, give or take what was
  # in flight (at most one request per connection).
  local diff=$((2 * recorded - answered))
  if [ "${diff#-}" -gt $((2 * CONNS + 2)) ]; then
    WARN=1
    echo "  WARNING: $backend payment_webhooks run $r: $answered webhooks answered but $recorded payments recorded (expected about $((answered / 2)))" >&2
  fi
  RAW+=("$backend payment_webhooks run $r: ${line#RESULT } answered=$answered payments_recorded=$recorded")
  PAY_LINE="$(field rps "$line") $(field p99_ms "$line") $answered $recorded $non2xx $(field socket_errors "$line")"
  printf '  %-8s %-16s run %d: %10s webhooks/s  p99 %8s ms  %s answered, %s payments recorded\n' \
    "$backend" payment_webhooks "$r" "$(field rps "$line")" "$(field p99_ms "$line")" "$answered" "$recorded"
  rm -f "$file"
}

pay_scenario() { # pay_scenario BACKEND: BENCH_RUNS runs, the medians into PAY_RESULTS
  local backend=$1 r rps=() p99s=() ans=() recs=() bad=0 sock=0
  pay_setup
  for ((r = 1; r <= RUNS; r++)); do
    run_no=$((run_no + 1))
    pay_run "$backend" "$r" "$run_no"
    # shellcheck disable=SC2086
    set -- $PAY_LINE
    rps+=("$1"); p99s+=("$2"); ans+=("$3"); recs+=("$4")
    bad=$((bad + $5)); sock=$((sock + $6))
  done
  PAY_RESULTS+=("$backend $(median "${rps[@]}") $(median "${p99s[@]}") $(median "${ans[@]}") $(median "${recs[@]}") $bad $sock")
  if [ "$bad" -ne 0 ] || [ "$sock" -ne 0 ]; then
    WARN=1
    echo "  WARNING: $backend payment_webhooks: $bad non-2xx responses, $sock socket errors" >&2
  fi
}

pay_table() {
  printf '| %-8s | %10s | %8s | %17s | %18s | %7s | %13s |\n' backend 'webhooks/s' 'p99 ms' 'webhooks answered' 'payments recorded' non-2xx 'socket errors'
  printf '|----------|-----------:|---------:|------------------:|-------------------:|--------:|--------------:|\n'
  local row
  for row in "${PAY_RESULTS[@]}"; do
    # shellcheck disable=SC2086
    set -- $row
    printf '| %-8s | %10.0f | %8.2f | %17s | %18s | %7s | %13s |\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7"
  done
}
