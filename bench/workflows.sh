# bench/workflows.sh - the workflows scenario of bench/run.sh (sourced by
# it): business events run a workflow, every step persisted.
#
# The workflow: trigger (customer.created) → condition (the customer's
# state is 29) → send_message to the customer (a WhatsApp template, to the
# local fake through the chat outbox). wrk posts customers over REST
# (bench/workflow_events.lua: post_one.lua's insert, one customer.created
# event each); the server's workers start a run per event and take its
# three steps, each with two commits of its workflow_logs row.
#
# Loads (BENCH_WF_LOADS): "N" is N connections posting as fast as the
# server answers (the events outrun the runs: runs/s is the engine's
# throughput, and the latency is mostly the backlog's); "N@R" is N
# connections pacing themselves to R events/s in all (the latency of a
# run at that rate).
#
# Measured from the database once every run has ended (or BENCH_WF_DRAIN
# seconds passed):
#   runs/s      completed runs / (last finished_at - first event's time)
#   p50, p99    event created_at → run finished_at, over the runs of the run
#   RSS         the server's resident memory: before the first run (idle,
#               after seeding) and the highest sampled once a second
# and checked: every run completed with its 3 step entries.
#
#   BENCH_WF_LOADS    the loads, each run BENCH_RUNS times; paced first,
#                     so their runs find no backlog [16@100 1 16]
#   BENCH_WF_GRAPH    send: the workflow above; set: its last node a `set`
#                     instead of send_message (no side effect: the engine
#                     and the expressions alone, as n8n's webhook → set →
#                     if → set) [send]
#   BENCH_WF_DRAIN    seconds to wait for the backlog after wrk stops [120]

WF_LOADS=${BENCH_WF_LOADS:-16@100 1 16}
WF_GRAPH=${BENCH_WF_GRAPH:-send}
WF_DRAIN=${BENCH_WF_DRAIN:-120}
WF_RESULTS=() # "backend load runs_per_s p50_ms p99_ms rss_idle_mb rss_peak_mb triggers completed backlog_at_end"

wf_sql() { # wf_sql SQL: one statement on the bench database, rows as lines
  if [ "$WF_BACKEND" = sqlite ]; then
    sqlite3 -cmd '.timeout 10000' "${WF_DB_URL#sqlite:}" "$1"
  else
    psql "$WF_DB_URL" -qtAX -v ON_ERROR_STOP=1 -c "$1"
  fi
}

wf_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }

wf_now_iso() { date -u '+%Y-%m-%dT%H:%M:%S.%6N+00:00'; }

wf_setup() { # wf_setup BACKEND DB_URL: channel, blueprint, activation, one probe run
  WF_BACKEND=$1 WF_DB_URL=$2
  command -v sqlite3 >/dev/null || [ "$WF_BACKEND" = postgres ] || die "sqlite3 is not installed (make deps-bench)"
  local resp id
  resp=$(api POST /rest/v1/channels \
    '{"platform":"whatsapp","name":"bench flows","phone_number_id":"9'"$(printf '%014d' $((RANDOM * 32768 + RANDOM)))"'","access_token":"bench-token","app_secret":"s","verify_token":"v","rate_limit_per_s":1000,"templates":[{"name":"welcome","language":"en","params":1}]}' \
    -H 'Prefer: return=representation') || die "could not create the WhatsApp channel"
  local last='{"id":"s","type":"send_message","params":{"to":"customer","text":"Namaste {{ customer.full_name }}",
                 "template":{"name":"welcome","language":"en","params":["{{ customer.full_name }}"]}}}'
  [ "$WF_GRAPH" = set ] && last='{"id":"s","type":"set","params":{"values":{"greeting":"upper(customer.full_name)"}}}'
  resp=$(api POST /rest/v1/workflow_blueprints \
    '{"name":"Welcome new customers in Karnataka","max_messages_per_hour":1000000000,
      "nodes":[{"id":"t","type":"trigger","params":{"event":"customer.created"}},
               {"id":"c","type":"condition","params":{"if":"customer.state_code == '"'29'"'"}},
               '"$last"'],
      "edges":[{"from":"t","to":"c"},{"from":"c","to":"s","when":"true"}]}' \
    -H 'Prefer: return=representation') || die "could not save the blueprint (are the workflow parts merged?)"
  id=$(grep -o '"id" *: *"[0-9a-f-]\{36\}"' <<<"$resp" | head -n 1 | cut -d'"' -f4)
  [ -n "$id" ] || die "no blueprint id in: $resp"
  api POST /rest/v1/rpc/activate_workflow "{\"id\":\"$id\"}" >/dev/null || die "could not activate the workflow"
  WF_BP=$id
  # One probe: a customer, and its run must complete.
  api POST /rest/v1/customers '{"full_name":"Flow probe","phone_number":"+919000000001","state_code":"29"}' \
    -H "Prefer: return=minimal" >/dev/null || die "the probe customer failed"
  local i st=""
  for i in $(seq 1 100); do
    st=$(wf_sql "SELECT status FROM workflow_logs WHERE blueprint_id = '$WF_BP'" | head -n 1)
    [ "$st" = completed ] && return 0
    sleep 0.2
  done
  tail -n 30 "$TMP/server.log" >&2
  die "the probe's run did not complete within 20 s (status: ${st:-none})"
}

wf_run() { # wf_run BACKEND LOAD RUN RUN_NO: one wrk run and its drain; sets WF_LINE
  local backend=$1 load=$2 r=$3 run_no=$4 clients rate pause=0
  clients=${load%@*}
  rate=${load#*@}
  [ "$rate" = "$load" ] && rate=0
  [ "$rate" -gt 0 ] && pause=$(( clients * 1000 / rate ))
  local out="$TMP/wrk-$1-wf-$3-$4.txt" samples="$TMP/wf-rss-$4.txt"
  local t0 rss_idle peak=0 sampler
  t0=$(wf_now_iso)
  rss_idle=$(wf_rss_kb)
  : >"$samples"
  ( while :; do wf_rss_kb >>"$samples"; sleep 1; done ) &
  sampler=$!
  BENCH_WF_DELAY_MS=$pause wrk -t1 -c"$clients" -d"$DURATION" --latency -s bench/workflow_events.lua "$BASE" -- "$run_no" >"$out" 2>&1 \
    || { kill $sampler; cat "$out" >&2; die "wrk failed ($backend workflows)"; }
  local line since triggers done_n k
  line=$(grep '^RESULT ' "$out" | tail -n 1) || { kill $sampler; cat "$out" >&2; die "wrk printed no RESULT line"; }
  since="FROM workflow_logs l JOIN events e ON e.profile_id = l.profile_id AND e.id = l.trigger_event_id WHERE l.blueprint_id = '$WF_BP' AND e.created_at >= '$t0'"
  triggers=$(wf_sql "SELECT count(*) FROM events WHERE event_type = 'customer.created' AND created_at >= '$t0'")
  local backlog_end
  backlog_end=$(( triggers - $(wf_sql "SELECT count(*) $since AND l.status = 'completed'") ))
  for ((k = 0; k < WF_DRAIN; k++)); do
    done_n=$(wf_sql "SELECT count(*) $since AND l.status IN ('completed', 'failed')")
    [ "$done_n" -ge "$triggers" ] && break
    sleep 1
  done
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null || true
  peak=$(sort -n "$samples" | tail -n 1)
  local lat span completed full
  if [ "$WF_BACKEND" = sqlite ]; then
    lat="(julianday(l.finished_at) - julianday(e.created_at)) * 86400000.0"
    span="SELECT (julianday(max(l.finished_at)) - julianday(min(e.created_at))) * 86400.0 $since AND l.status = 'completed'"
    full="json_array_length(l.step_results) = 3"
  else
    lat="extract(epoch FROM l.finished_at - e.created_at) * 1000"
    span="SELECT extract(epoch FROM max(l.finished_at) - min(e.created_at)) $since AND l.status = 'completed'"
    full="jsonb_array_length(l.step_results) = 3"
  fi
  completed=$(wf_sql "SELECT count(*) $since AND l.status = 'completed' AND $full")
  local secs rps p50 p99
  secs=$(wf_sql "$span")
  rps=$(awk -v n="$completed" -v s="$secs" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')
  wf_sql "SELECT $lat $since AND l.status = 'completed'" | sort -g >"$TMP/wf-lat.txt"
  p50=$(awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", v[int((NR - 1) * 0.50) + 1]; else print 0 }' "$TMP/wf-lat.txt")
  p99=$(awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", v[int((NR - 1) * 0.99) + 1]; else print 0 }' "$TMP/wf-lat.txt")
  local idle_mb peak_mb
  idle_mb=$(awk -v k="$rss_idle" 'BEGIN { printf "%.1f", k / 1024 }')
  peak_mb=$(awk -v k="$peak" 'BEGIN { printf "%.1f", k / 1024 }')
  if [ "$completed" -lt "$triggers" ]; then
    WARN=1
    echo "  WARNING: $backend workflows $load run $r: $triggers events, $completed runs completed with 3 steps" >&2
  fi
  RAW+=("$backend workflows $load run $r: ${line#RESULT } events=$triggers completed_with_3_steps=$completed backlog_at_wrk_end=$backlog_end span_s=$secs runs_per_s=$rps p50_ms=$p50 p99_ms=$p99 rss_idle_mb=$idle_mb rss_peak_mb=$peak_mb")
  printf '  %-8s %-14s run %d: %8s runs/s  p50 %8s ms  p99 %8s ms  RSS %s → %s MB  (%s events, backlog %s when wrk stopped)\n' \
    "$backend" "workflows $load" "$r" "$rps" "$p50" "$p99" "$idle_mb" "$peak_mb" "$triggers" "$backlog_end"
  WF_LINE="$rps $p50 $p99 $idle_mb $peak_mb $triggers $completed $backlog_end"
}

wf_scenario() { # wf_scenario BACKEND DB_URL: BENCH_RUNS runs per load, medians into WF_RESULTS
  local backend=$1 c r
  wf_setup "$backend" "$2"
  for c in $WF_LOADS; do
    local rps=() p50=() p99=() idle=() peak=() trig=0 comp=0 backlog=()
    for ((r = 1; r <= RUNS; r++)); do
      run_no=$((run_no + 1))
      wf_run "$backend" "$c" "$r" "$run_no"
      # shellcheck disable=SC2086
      set -- $WF_LINE
      rps+=("$1"); p50+=("$2"); p99+=("$3"); idle+=("$4"); peak+=("$5")
      trig=$((trig + $6)); comp=$((comp + $7)); backlog+=("$8")
    done
    WF_RESULTS+=("$backend $c $(median "${rps[@]}") $(median "${p50[@]}") $(median "${p99[@]}") $(median "${idle[@]}") $(median "${peak[@]}") $trig $comp $(median "${backlog[@]}")")
  done
}

wf_table() {
  printf '| %-8s | %7s | %8s | %10s | %10s | %12s | %12s | %16s | %14s |\n' backend load 'runs/s' 'p50 ms' 'p99 ms' 'RSS idle MB' 'RSS peak MB' 'completed/events' 'backlog at end'
  printf '|----------|--------:|---------:|-----------:|-----------:|-------------:|-------------:|-----------------:|---------------:|\n'
  local row
  for row in "${WF_RESULTS[@]}"; do
    # shellcheck disable=SC2086
    set -- $row
    printf '| %-8s | %7s | %8.0f | %10.1f | %10.1f | %12s | %12s | %16s | %14s |\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$9/$8" "${10}"
  done
}
