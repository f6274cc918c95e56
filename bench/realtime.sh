# bench/realtime.sh - the realtime scenario of bench/run.sh (sourced by it):
# WebSocket subscribers of the live feed, and a stream of changes to their
# rows.
#
# BENCH_RT_TENANTS users sign up (each from its own loopback address: the
# signup limit counts per address). build/rtload (bench/rtload.c) opens
# BENCH_RT_SOCKETS WebSockets on the one server, socket i for tenant
# i % tenants, and joins on each a channel watching every change of
# customers, as supabase-js would. Then:
#
#   idle    the sockets joined and quiet: the server's RSS with them minus
#           its RSS just before, divided by the sockets (KB per idle
#           socket; the server's thread stacks and caches are already
#           there before);
#   load    for each rate of BENCH_RT_RATES (rows/s in all), BENCH_RUNS
#           runs of BENCH_DURATION: BENCH_RT_WRITERS keep-alive connections
#           POST customers for the tenants in turn; every row must reach
#           every socket of its tenant (and, by the server's tenant check,
#           no other). deliveries/s counts from the first write to the last
#           delivery; latencies run from the event's commit_timestamp (and
#           from the write's own clock stamp) to the client's receipt.
#
#   BENCH_RT_SOCKETS  [1000]      BENCH_RT_TENANTS  [10]
#   BENCH_RT_RATES    [100 300]   BENCH_RT_WRITERS  [16]
#   BENCH_RT_DRAIN    seconds to wait for late deliveries [10]

RT_SOCKETS=${BENCH_RT_SOCKETS:-1000}
RT_TENANTS=${BENCH_RT_TENANTS:-10}
RT_RATES=${BENCH_RT_RATES:-100 300}
RT_WRITERS=${BENCH_RT_WRITERS:-16}
RT_DRAIN=${BENCH_RT_DRAIN:-10}
RT_BIN=${RTLOAD_BIN:-$(dirname "$BIN")/rtload}
RT_RESULTS=() # "backend rate writes_per_s deliveries_per_s p50 p95 p99 write_p95 missing expected kb_per_idle_socket"
RT_IDLE_KB=()

rt_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }

rt_setup() { # rt_setup: the tenants' access tokens into $TMP/rt-tokens
  [ -x "$RT_BIN" ] || die "no load client at $RT_BIN (cmake --build build --target rtload)"
  : >"$TMP/rt-tokens"
  local i resp tok
  for ((i = 1; i <= RT_TENANTS; i++)); do
    resp=$(TOKEN='' api POST /auth/v1/signup \
      "{\"email\":\"rt-$i-$RANDOM$RANDOM@example.com\",\"password\":\"bench-password-1\",\"data\":{\"business_name\":\"Realtime $i\"}}" \
      --interface "127.0.$((100 + i / 250)).$((1 + i % 250))") || die "realtime: signup $i failed"
    tok=$(json_field access_token <<<"$resp")
    [ -n "$tok" ] || die "realtime: signup $i answered no access_token"
    echo "$tok" >>"$TMP/rt-tokens"
  done
}

rt_idle() { # rt_idle BACKEND RUN: RSS per idle socket into RT_IDLE_KB
  local ready="$TMP/rt-ready" out="$TMP/rt-idle-$1-$2.txt" pid before after i kb
  rm -f "$ready"
  sleep 1
  before=$(rt_rss_kb)
  "$RT_BIN" -p "${BASE##*:}" -k "$ANON" -T "$TMP/rt-tokens" -n "$RT_SOCKETS" -r 0 -H 0 \
    -R "$ready" >"$out" 2>&1 &
  pid=$!
  for ((i = 0; i < 600; i++)); do
    [ -f "$ready" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -f "$ready" ] || { cat "$out" >&2; die "realtime: the idle sockets did not join"; }
  sleep 2
  after=$(rt_rss_kb)
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  local joined
  joined=$(sed -n 's/^joined=//p' "$ready")
  [ "${joined:-0}" -gt 0 ] || { cat "$out" >&2; die "realtime: no idle socket joined"; }
  [ "$joined" -eq "$RT_SOCKETS" ] || { WARN=1; echo "  WARNING: $1 realtime idle: $joined of $RT_SOCKETS sockets joined" >&2; }
  kb=$(awk -v a="$after" -v b="$before" -v n="$joined" 'BEGIN { printf "%.1f", (a - b) / n }')
  RAW+=("$1 realtime idle run $2: sockets=$joined rss_before_kb=$before rss_after_kb=$after kb_per_socket=$kb")
  printf '  %-8s %-14s run %d: %6s KB per idle socket (RSS %s → %s KB, %s sockets)\n' "$1" "realtime idle" "$2" "$kb" "$before" "$after" "$joined"
  RT_IDLE_KB+=("$kb")
  # Let the server see the sockets close before the next measurement.
  sleep 2
}

rt_scenario() { # rt_scenario BACKEND
  local backend=$1 rate r out line secs
  secs=${DURATION%s}
  [[ "$secs" =~ ^[0-9]+$ ]] || die "realtime: BENCH_DURATION must be whole seconds (e.g. 10s)"
  rt_setup
  RT_IDLE_KB=()
  for ((r = 1; r <= RUNS; r++)); do rt_idle "$backend" "$r"; done
  local idle_kb
  idle_kb=$(median "${RT_IDLE_KB[@]}")
  for rate in $RT_RATES; do
    local wps=() dps=() p50=() p95=() p99=() wp95=() missing=0 expected=0
    for ((r = 1; r <= RUNS; r++)); do
      out="$TMP/rt-$backend-$rate-$r.txt"
      "$RT_BIN" -p "${BASE##*:}" -k "$ANON" -T "$TMP/rt-tokens" -n "$RT_SOCKETS" \
        -r "$rate" -w "$RT_WRITERS" -d "$secs" -D "$RT_DRAIN" >"$out" 2>&1 || true
      line=$(grep '^RESULT ' "$out" | tail -n 1) || { cat "$out" >&2; die "rtload printed no RESULT line"; }
      RAW+=("$backend realtime $rate/s run $r: ${line#RESULT }")
      wps+=("$(field writes_per_s "$line")")
      dps+=("$(field deliveries_per_s "$line")")
      p50+=("$(field p50_ms "$line")")
      p95+=("$(field p95_ms "$line")")
      p99+=("$(field p99_ms "$line")")
      wp95+=("$(field write_p95_ms "$line")")
      missing=$((missing + $(field missing "$line")))
      expected=$((expected + $(field expected "$line")))
      printf '  %-8s %-14s run %d: %8s deliveries/s  p50 %6s ms  p95 %6s ms  p99 %6s ms  (%s rows/s, %s of %s missing)\n' \
        "$backend" "realtime $rate/s" "$r" "$(field deliveries_per_s "$line")" "$(field p50_ms "$line")" \
        "$(field p95_ms "$line")" "$(field p99_ms "$line")" "$(field writes_per_s "$line")" \
        "$(field missing "$line")" "$(field expected "$line")"
      if [ "$(field missing "$line")" != 0 ] || [ "$(field joined "$line")" != "$RT_SOCKETS" ] || [ "$(field writes_bad "$line")" != 0 ]; then
        WARN=1
        echo "  WARNING: $backend realtime $rate/s run $r: $(field joined "$line") joined, $(field writes_bad "$line") writes failed, $(field missing "$line") deliveries missing" >&2
        tail -n 5 "$out" >&2
      fi
    done
    RT_RESULTS+=("$backend $rate $(median "${wps[@]}") $(median "${dps[@]}") $(median "${p50[@]}") $(median "${p95[@]}") $(median "${p99[@]}") $(median "${wp95[@]}") $missing $expected $idle_kb")
  done
}

rt_table() {
  printf '| %-8s | %7s | %8s | %12s | %8s | %8s | %8s | %14s | %15s | %13s |\n' backend 'rows/s' 'done/s' 'deliveries/s' 'p50 ms' 'p95 ms' 'p99 ms' 'write→rcv p95' 'missing/expected' 'KB/idle sock'
  printf '|----------|--------:|---------:|-------------:|---------:|---------:|---------:|---------------:|----------------:|--------------:|\n'
  local row
  for row in "${RT_RESULTS[@]}"; do
    # shellcheck disable=SC2086
    set -- $row
    printf '| %-8s | %7s | %8.0f | %12.0f | %8.1f | %8.1f | %8.1f | %14.1f | %15s | %13s |\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9/${10}" "${11}"
  done
}
