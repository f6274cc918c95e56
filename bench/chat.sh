# bench/chat.sh - the chat_webhooks scenario of bench/run.sh (sourced by it):
# signed inbound WhatsApp webhooks, one text message each from a distinct
# sender ("price of rice?"), posted by wrk at full speed to
# /webhooks/whatsapp/<channel id> → stored → processed by the inbound worker
# → the agent's reply queued (and sent to a local WhatsApp fake).
#
# wrk gives the acknowledged rate and the p99 of the webhook's answer. The
# "fully processed" rate is how fast the agent's replies appear: the count of
# outbound unified_messages, sampled every second over REST during the run
# and while the backlog drains afterwards (up to BENCH_CHAT_DRAIN seconds).
# processed msg/s = replies added / (time of the last new reply - start);
# backlog = acknowledged - replies at the moment wrk stops. When processing
# is slower than acknowledging, the backlog grows with the load's length.
#
#   BENCH_CHAT_MESSAGES  signed requests generated per run [200000]
#   BENCH_CHAT_DRAIN     seconds to wait for the backlog to drain [180]

CHAT_N=${BENCH_CHAT_MESSAGES:-200000}
CHAT_DRAIN=${BENCH_CHAT_DRAIN:-180}
CHAT_RESULTS=() # "backend ack_rps p99 processed_rps backlog drain_s non2xx socket_errors"
CHAT_FAKE_PID=
CHAT_WA_URL=

chat_fake_start() { # the WhatsApp fake the server's outbox sends to
  node "$ROOT/tests/fakes/whatsapp.mjs" --port 0 >"$TMP/wa-fake.log" 2>&1 &
  CHAT_FAKE_PID=$!
  local i
  for i in $(seq 1 50); do
    CHAT_WA_URL=$(sed -n 's/^FAKE_WHATSAPP \(http[^ ]*\)$/\1/p' "$TMP/wa-fake.log")
    [ -n "$CHAT_WA_URL" ] && return 0
    sleep 0.1
  done
  cat "$TMP/wa-fake.log" >&2
  die "the WhatsApp fake did not start"
}

chat_fake_stop() {
  if [ -n "$CHAT_FAKE_PID" ]; then
    kill "$CHAT_FAKE_PID" 2>/dev/null || true
    wait "$CHAT_FAKE_PID" 2>/dev/null || true
    CHAT_FAKE_PID=
  fi
}

chat_setup() { # after seed(): a WhatsApp channel of the bench tenant
  CHAT_PNID="9$(printf '%014d' $((RANDOM * 32768 + RANDOM)))"
  CHAT_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  local resp
  resp=$(api POST /rest/v1/channels \
    "{\"platform\":\"whatsapp\",\"name\":\"bench\",\"phone_number_id\":\"$CHAT_PNID\",\"access_token\":\"bench-token\",\"app_secret\":\"$CHAT_SECRET\",\"verify_token\":\"v\"}" \
    -H 'Prefer: return=representation') || die "could not create the WhatsApp channel"
  CHAT_CHANNEL=$(json_field id <<<"$resp")
  [ -n "$CHAT_CHANNEL" ] || die "no channel id in: $resp"
  export BENCH_CHAT_PATH="/webhooks/whatsapp/$CHAT_CHANNEL"
  # One signed probe: it must answer 200 before wrk runs.
  node "$ROOT/bench/chat_gen.mjs" --out "$TMP/chat-probe.txt" --n 1 --run 99 \
    --pnid "$CHAT_PNID" --secret "$CHAT_SECRET" || die "chat_gen failed"
  local sig body status
  sig=$(cut -f1 "$TMP/chat-probe.txt")
  body=$(cut -f2- "$TMP/chat-probe.txt")
  status=$(curl -sS -o "$TMP/resp" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "X-Hub-Signature-256: $sig" --data-binary "$body" "$BASE$BENCH_CHAT_PATH")
  [ "$status" = 200 ] || { cat "$TMP/resp" >&2; die "the signed webhook probe answered $status"; }
  local i
  for i in $(seq 1 100); do
    [ "$(chat_count outbound)" -ge 1 ] && return 0
    sleep 0.2
  done
  tail -n 30 "$TMP/server.log" >&2
  die "the probe message got no agent reply within 20 s (is the chat agent merged?)"
}

chat_count() { # chat_count inbound|outbound: the tenant's messages of that direction
  curl -sS -o /dev/null -D - -H "apikey: $ANON" -H "Authorization: Bearer $TOKEN" \
    -H 'Prefer: count=exact' "$BASE/rest/v1/unified_messages?select=id&direction=eq.$1&limit=1" \
    | tr -d '\r' | sed -n 's|^[Cc]ontent-[Rr]ange: .*/\([0-9][0-9]*\)$|\1|p'
}

now_ms() { date +%s%3N; }

chat_run() { # chat_run BACKEND RUN RUN_NO: one wrk run and its drain; appends to RAW, sets CHAT_LINE
  local backend=$1 r=$2 run_no=$3 file="$TMP/chat-$run_no.txt" out="$TMP/wrk-$backend-chat-$r.txt"
  node "$ROOT/bench/chat_gen.mjs" --out "$file" --n "$CHAT_N" --run "$run_no" \
    --pnid "$CHAT_PNID" --secret "$CHAT_SECRET" || die "chat_gen failed"
  local out0 in0 t0 samples="$TMP/chat-samples-$run_no.txt"
  out0=$(chat_count outbound)
  in0=$(chat_count inbound)
  : >"$samples"
  t0=$(now_ms)
  ( while :; do echo "$(( $(now_ms) - t0 )) $(chat_count inbound) $(chat_count outbound)" >>"$samples"; sleep 1; done ) &
  local sampler=$!
  wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/chat_webhooks.lua "$BASE" \
    -- "$file" "$WRK_THREADS" >"$out" 2>&1 || { kill $sampler; cat "$out" >&2; die "wrk failed ($backend chat)"; }
  local t_end line requests non2xx acked out_end
  t_end=$(( $(now_ms) - t0 ))
  line=$(grep '^RESULT ' "$out" | tail -n 1) || { kill $sampler; cat "$out" >&2; die "wrk printed no RESULT line"; }
  requests=$(field requests "$line")
  non2xx=$(field non2xx "$line")
  acked=$((requests - non2xx))
  [ "$requests" -le "$CHAT_N" ] || echo "  WARNING: wrk sent $requests requests, more than the $CHAT_N generated: some were redeliveries (raise BENCH_CHAT_MESSAGES)" >&2
  out_end=$(chat_count outbound)
  # Drain: wait until every acknowledged message has its reply, or nothing
  # moves for 15 s, or BENCH_CHAT_DRAIN passes.
  local last=$out_end still=0 t_last=$t_end cur
  for ((k = 0; k < CHAT_DRAIN; k++)); do
    cur=$(chat_count outbound)
    if [ "$cur" != "$last" ]; then last=$cur; still=0; t_last=$(( $(now_ms) - t0 )); else still=$((still + 1)); fi
    [ $((cur - out0)) -ge "$acked" ] && break
    [ "$still" -ge 15 ] && break
    sleep 1
  done
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null || true
  local replies=$((last - out0)) backlog=$((acked - (out_end - out0)))
  local proc_rps drain_s
  proc_rps=$(awk -v n="$replies" -v ms="$t_last" 'BEGIN { printf "%.1f", (ms > 0 ? n * 1000 / ms : 0) }')
  drain_s=$(awk -v a="$t_last" -v b="$t_end" 'BEGIN { d = (a - b) / 1000; printf "%.1f", (d > 0 ? d : 0) }')
  local inbound=$(( $(chat_count inbound) - in0 ))
  [ "$replies" -ge "$acked" ] || { WARN=1; echo "  WARNING: $backend chat run $r: $acked acknowledged, $replies replies after the drain ($inbound stored inbound)" >&2; }
  RAW+=("$backend chat_webhooks run $r: ${line#RESULT } acked=$acked inbound_stored=$inbound replies=$replies backlog_at_end=$backlog processed_rps=$proc_rps drain_s=$drain_s samples(ms inbound outbound): $(tr '\n' ';' <"$samples" | head -c 4000)")
  CHAT_LINE="$(field rps "$line") $(field p99_ms "$line") $proc_rps $backlog $drain_s $non2xx $(field socket_errors "$line")"
  printf '  %-8s %-14s run %d: %10s ack/s  p99 %8s ms  %10s processed/s  backlog %s  drained in %s s\n' \
    "$backend" chat_webhooks "$r" "$(field rps "$line")" "$(field p99_ms "$line")" "$proc_rps" "$backlog" "$drain_s"
  rm -f "$file"
}

chat_scenario() { # chat_scenario BACKEND: BENCH_RUNS runs, the medians into CHAT_RESULTS
  local backend=$1 r acks=() p99s=() procs=() backlogs=() drains=() bad=0 sock=0
  chat_setup
  for ((r = 1; r <= RUNS; r++)); do
    run_no=$((run_no + 1))
    chat_run "$backend" "$r" "$run_no"
    # shellcheck disable=SC2086
    set -- $CHAT_LINE
    acks+=("$1"); p99s+=("$2"); procs+=("$3"); backlogs+=("$4"); drains+=("$5")
    bad=$((bad + $6)); sock=$((sock + $7))
  done
  CHAT_RESULTS+=("$backend $(median "${acks[@]}") $(median "${p99s[@]}") $(median "${procs[@]}") $(median "${backlogs[@]}") $(median "${drains[@]}") $bad $sock")
  if [ "$bad" -ne 0 ] || [ "$sock" -ne 0 ]; then
    WARN=1
    echo "  WARNING: $backend chat_webhooks: $bad non-2xx responses, $sock socket errors" >&2
  fi
}

chat_table() {
  printf '| %-8s | %12s | %8s | %15s | %14s | %10s | %7s | %13s |\n' backend 'ack msg/s' 'p99 ms' 'processed msg/s' 'backlog at end' 'drain s' non-2xx 'socket errors'
  printf '|----------|-------------:|---------:|----------------:|---------------:|-----------:|--------:|--------------:|\n'
  local row
  for row in "${CHAT_RESULTS[@]}"; do
    # shellcheck disable=SC2086
    set -- $row
    printf '| %-8s | %12.0f | %8.2f | %15.0f | %14s | %10s | %7s | %13s |\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8"
  done
}
