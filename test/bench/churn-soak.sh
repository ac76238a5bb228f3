#!/usr/bin/env bash
# The churn soak (`SOAK=300 npm run bench:proxy`): Lanyard's pair from ../shared/bench/peers
# (the `custom` pair, test/bench/lanyard-pair.env.sh) under `wrk -c16 -H 'Connection: close'`
# (one new connection per request) for SOAK seconds, then IDLE seconds without load. Every
# SAMPLE seconds it prints each proxy's RSS and anonymous memory (/proc/PID/smaps_rollup);
# at the end, the plateau (median of the second half of the load) against the memory after
# the idle period, and the peak. Memory that returns to its plateau leaves end ≤ plateau.
#
# Env: PEERS_DIR (required), OUT (scratch; certificates and logs), SOAK (default 300),
# IDLE (default 60), SAMPLE (default 10), SOAK_CONNS (wrk connections, default 16).
set -euo pipefail
: "${PEERS_DIR:?PEERS_DIR}"
SOAK=${SOAK:-300}; IDLE=${IDLE:-60}; SAMPLE=${SAMPLE:-10}; CONNS=${SOAK_CONNS:-16}
. "$(dirname "${BASH_SOURCE[0]}")/lanyard-pair.env.sh"
cd "$PEERS_DIR"
. ./lib.sh
./certs.sh >/dev/null
. ./pairs/custom.sh

STARTED_BACKEND=; INPID=; OUTPID=; WRKPID=
cleanup() {
  [ -n "$WRKPID" ] && kill "$WRKPID" 2>/dev/null || true
  stop_pid "$OUTPID"; stop_pid "$INPID"
  [ -n "$STARTED_BACKEND" ] && ./backend.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
# The backend daemon must not inherit our descriptors (a caller's lock files among them).
if ! wait_port "$BACKEND_PORT" 1; then ./backend.sh start >/dev/null 2>&1 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; STARTED_BACKEND=1; fi
( inbound ) >"$LOGS/soak.in.log" 2>&1 & INPID=$!
wait_port "$IN_PORT" 15 "$INPID" || { log "soak: inbound did not listen"; tail -5 "$LOGS/soak.in.log" >&2; exit 1; }
( outbound ) >"$LOGS/soak.out.log" 2>&1 & OUTPID=$!
wait_port "$OUT_PORT" 15 "$OUTPID" || { log "soak: outbound did not listen"; tail -5 "$LOGS/soak.out.log" >&2; exit 1; }
[ "$(curl -sS --max-time 5 "http://127.0.0.1:$OUT_PORT/")" = ok ] || { log "soak: end-to-end check failed"; exit 1; }

kb() { awk -v k="$2" '$1 == k {print $2}' "$1" 2>/dev/null || echo 0; }
SAMPLES=$(mktemp)
sample() { # phase seconds
  printf '%s %s %s %s %s %s\n' "$1" "$2" \
    "$(kb "/proc/$OUTPID/status" VmRSS:)" "$(kb "/proc/$OUTPID/smaps_rollup" Anonymous:)" \
    "$(kb "/proc/$INPID/status" VmRSS:)" "$(kb "/proc/$INPID/smaps_rollup" Anonymous:)" >>"$SAMPLES"
}
sample idle 0
wrk -t1 -c"$CONNS" -d"${SOAK}s" -H 'Connection: close' -s "$PEERS_DIR/wrk-json.lua" "http://127.0.0.1:$OUT_PORT/" >"$LOGS/soak.wrk.log" 2>&1 & WRKPID=$!
t=0
while [ "$t" -lt "$SOAK" ]; do sleep "$SAMPLE"; t=$((t + SAMPLE)); sample churn "$t"; done
wait "$WRKPID" || true; WRKPID=
t=0
while [ "$t" -lt "$IDLE" ]; do sleep "$SAMPLE"; t=$((t + SAMPLE)); sample after "$t"; done
alive=yes; kill -0 "$OUTPID" 2>/dev/null && kill -0 "$INPID" 2>/dev/null || alive=no
res=$(sed -n 's/^WRKJSON //p' "$LOGS/soak.wrk.log" | tail -1)

node - "$SAMPLES" "$SOAK" "$CONNS" "$alive" "${res:-{\}}" <<'JS'
const [file, soak, conns, alive, wrk] = process.argv.slice(2);
const rows = require('fs').readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' '))
  .map(([phase, s, ro, ao, ri, ai]) => ({ phase, s: +s, v: [ro, ao, ri, ai].map((x) => +x / 1024) }));
const f = (x) => x.toFixed(1);
const r = JSON.parse(wrk);
const conn = r.requests ? `${r.requests} connections, ${(r.requests / (r.duration_us / 1e6)).toFixed(0)}/s, errors ${r.err_connect + r.err_read + r.err_write + r.err_status + r.err_timeout}` : 'no wrk result';
console.log(`# Churn soak: ${soak} s of wrk -c${conns} 'Connection: close' through Lanyard's pair (${conn}), then idle; proxies alive at the end: ${alive}\n`);
console.log('| phase | s | outbound RSS MiB | outbound anon MiB | inbound RSS MiB | inbound anon MiB |\n|---|---|---|---|---|---|');
for (const x of rows) console.log(`| ${x.phase} | ${x.s} | ${x.v.map(f).join(' | ')} |`);
const churn = rows.filter((x) => x.phase === 'churn');
const late = churn.slice(Math.floor(churn.length / 2));
const med = (a) => { const s = [...a].sort((p, q) => p - q); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const end = rows[rows.length - 1];
const names = ['outbound RSS', 'outbound anon', 'inbound RSS', 'inbound anon'];
console.log('\n| | plateau (median, 2nd half of the churn) | peak | end (after idle) | end − plateau |\n|---|---|---|---|---|');
names.forEach((n, i) => {
  const p = med(late.map((x) => x.v[i]));
  const peak = Math.max(...rows.map((x) => x.v[i]));
  console.log(`| ${n} MiB | ${f(p)} | ${f(peak)} | ${f(end.v[i])} | ${f(end.v[i] - p)} |`);
});
JS
rm -f "$SAMPLES"
