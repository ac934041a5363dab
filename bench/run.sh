#!/usr/bin/env bash
# Kbl against Redis on this machine, in one invocation: builds Release, starts a fresh silo (its default settings)
# and a fresh redis-server (appendonly yes, appendfsync everysec) on free loopback ports, drives put/get through
# Kbl's HTTP and gRPC APIs with bench/Kbl.LoadGen and SET/GET through redis-benchmark with the same concurrency, key
# space and value size, and prints one table with the ratios to the same run's peers: Redis, and the gateway's
# no-op endpoint (GET /healthz: what ASP.NET Core costs without Kbl). The single HTTP requests also run under wrk
# (bench/wrk.lua), a load generator in C: .NET's HttpClient needs about as much CPU per request as the server's
# no-op endpoint, on the same two cores, so wrk's rows leave more of the machine to the server. Batches of BATCH records (the batch API)
# compare with redis-benchmark pipelining BATCH commands (-P); a bulk load of BULK_KEYS records, in batches of
# 1,000, is timed end to end.
#
#   bench/run.sh                                   # defaults below
#   GENOME='{"redundancy":{"mode":"mirror","copies":2}}' bench/run.sh   # the colony's genome (default: one copy)
#   BATCH=16 BULK_KEYS=1000000 bench/run.sh        # batch size, bulk-load size (0: no bulk load)
#   CONCURRENCY=64 DURATION=30 bench/run.sh
#   SILO_ARGS='--Logging:LogLevel:Default=Information' bench/run.sh   # extra silo configuration
#   ROUNDS=3 bench/run.sh                          # repeat every run; the table shows each row's median round
#   SKIP_BUILD=1 bench/run.sh                      # use the Release binaries already built
#
# Everything it starts is stopped on exit; its temp folder (logs, data) is removed unless the run failed.
set -euo pipefail

CONCURRENCY=${CONCURRENCY:-32}
KEYS=${KEYS:-10000}
VALUE_SIZE=${VALUE_SIZE:-100}
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-10}
SILO_ARGS=${SILO_ARGS:-}
REDIS_CALIBRATION=${REDIS_CALIBRATION:-50000}
ROUNDS=${ROUNDS:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
GENOME=${GENOME:-'{"redundancy":{"mode":"none"}}'}
BATCH=${BATCH:-16}
BULK_KEYS=${BULK_KEYS:-1000000}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d -t kbl-bench.XXXXXX)
pids=()

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 1; }

cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ $rc -eq 0 ]]; then
    rm -rf "$tmp"
  else
    say "run.sh: failed (exit $rc); logs kept in $tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

whole() { [[ $2 =~ ^[0-9]+$ ]] && (( $2 >= 1 )) || die "$1 must be a whole number >= 1 (got '$2')"; }
whole CONCURRENCY "$CONCURRENCY"
whole KEYS "$KEYS"
whole DURATION "$DURATION"
whole REDIS_CALIBRATION "$REDIS_CALIBRATION"
whole ROUNDS "$ROUNDS"
whole BATCH "$BATCH"
[[ $BULK_KEYS =~ ^[0-9]+$ ]] || die "BULK_KEYS must be a whole number of records, 0 for none (got '$BULK_KEYS')"
[[ $VALUE_SIZE =~ ^[0-9]+$ ]] || die "VALUE_SIZE must be a whole number of bytes (got '$VALUE_SIZE')"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a whole number of seconds (got '$WARMUP')"

for tool in dotnet python3 curl; do
  command -v "$tool" >/dev/null || die "$tool is needed and not installed"
done
missing=()
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null && command -v redis-cli >/dev/null || missing+=(redis-server)
command -v wrk >/dev/null || missing+=(wrk)
if (( ${#missing[@]} > 0 )); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "run.sh: apt-get install -y ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2
  else
    die "${missing[*]} needed (Debian: apt-get install ${missing[*]})"
  fi
fi

silo_dll=$root/src/Silo/bin/Release/net10.0/Kbl.Silo.dll
loadgen_dll=$root/bench/Kbl.LoadGen/bin/Release/net10.0/Kbl.LoadGen.dll
if [[ $SKIP_BUILD == 1 ]]; then
  [[ -f $silo_dll && -f $loadgen_dll ]] || die "SKIP_BUILD=1 but $silo_dll or $loadgen_dll is not built"
  say "run.sh: SKIP_BUILD=1: using the Release binaries as they are"
else
  say "run.sh: building Release (logs in $tmp/build.log)"
  for project in src/Silo/Silo.csproj bench/Kbl.LoadGen/Kbl.LoadGen.csproj; do
    dotnet build "$root/$project" -c Release -m:1 -nologo -v q >>"$tmp/build.log" 2>&1 ||
      { tail -n 30 "$tmp/build.log" >&2; die "build of $project failed"; }
  done
fi

# Six free loopback ports, held open together so they differ, then released for the servers.
read -r http_port grpc_port silo_port gateway_port redis_port _ < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()')

mkdir -p "$tmp/silo" "$tmp/redis"
# shellcheck disable=SC2086 # SILO_ARGS is a list of arguments
(cd "$tmp/silo" && exec dotnet "$silo_dll" --urls "http://127.0.0.1:$http_port" \
  --Kbl:Gateway:GrpcPort="$grpc_port" --Kbl:DataPath="$tmp/silo" --Kbl:Storage:Sqlite:Path="$tmp/silo/meta.db" \
  --Kbl:Cluster:SiloPort="$silo_port" --Kbl:Cluster:GatewayPort="$gateway_port" $SILO_ARGS) >"$tmp/silo.log" 2>&1 &
pids+=($!)
redis-server --port "$redis_port" --appendonly yes --appendfsync everysec --save "" --bind 127.0.0.1 \
  --dir "$tmp/redis" --daemonize no >"$tmp/redis.log" 2>&1 &
pids+=($!)

for _ in $(seq 120); do
  curl -fs "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { tail -n 20 "$tmp/silo.log" >&2; die "the silo exited"; }
  sleep 0.5
done
curl -fs "http://127.0.0.1:$http_port/readyz" >/dev/null || die "the silo was not ready after 60 s (see $tmp/silo.log)"
for _ in $(seq 40); do
  [[ $(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null) == PONG ]] && break
  sleep 0.25
done
[[ $(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null) == PONG ]] || die "redis-server did not answer (see $tmp/redis.log)"

silo_pid=${pids[0]}
redis_pid=${pids[1]}
# user + system CPU of a process, in 1/100 s.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
TIMEFORMAT='%U %S'

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# One line per measurement: round, op, client, ops/s, p50, p99, p999 (ms), errors,
# server CPU (cores, us/request), load-generator CPU (cores, us/request).
rows=$tmp/rows.tsv
: >"$rows"

# kbl PROTOCOL OP: one load-generator run; appends a row (see `rows` below) to the rows.
# alive: stops the run with a clear message when the silo or redis-server is gone (they should outlive it).
alive() {
  kill -0 "$silo_pid" 2>/dev/null || { tail -n 5 "$tmp/silo.log" >&2; die "the silo (pid $silo_pid) has exited"; }
  kill -0 "$redis_pid" 2>/dev/null || { tail -n 5 "$tmp/redis.log" >&2; die "redis-server (pid $redis_pid) has exited"; }
}

# kbl PROTOCOL OP [BATCH]: one load-generator run; appends a row (op, plus "-batch" for a batch) to the rows.
kbl() {
  local protocol=$1 op=$2 batch=${3:-1} extra=() rc=0 label=$2
  alive
  [[ $op == get ]] && extra=(--preload)
  (( batch > 1 )) && label="$op-batch"
  say "run.sh: Kbl $protocol $label: ${WARMUP} s warm-up + ${DURATION} s"
  dotnet "$loadgen_dll" --target "http://127.0.0.1:$http_port" --grpc "http://127.0.0.1:$grpc_port" \
    --protocol "$protocol" --op "$op" --batch "$batch" --concurrency "$CONCURRENCY" --keys "$KEYS" --value-size "$VALUE_SIZE" \
    --duration "$DURATION" --warmup "$WARMUP" --colony bench --genome "$GENOME" --server-pid "$silo_pid" --json "${extra[@]}" \
    >"$tmp/kbl-$protocol-$label.json" || rc=$?
  # 3: the run finished but saw errors, which the table shows.
  [[ $rc -eq 0 || $rc -eq 3 ]] || die "the load generator failed (exit $rc)"
  python3 - "$tmp/kbl-$protocol-$label.json" "$protocol" "$round" "$label" >>"$rows" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
f = lambda v, d=3: "-" if v is None else f"{v:.{d}f}"
errors = r["errors"] + r["errorsOutsideWindow"]
# Per record: a batch's CPU is shared by its records.
us = lambda v: None if v is None else v / r["batch"]
print("\t".join([sys.argv[3], sys.argv[4], "kbl " + sys.argv[2], f"{r['opsPerSecond']:.0f}", f(r["p50Ms"]), f(r["p99Ms"]), f(r["p999Ms"]), str(errors),
                 f(r["serverCpuCores"], 2), f(us(r["serverCpuUsPerRequest"]), 0), f(r["clientCpuCores"], 2), f(us(r["clientCpuUsPerRequest"]), 0)]))
for kind, e in r["errorKinds"].items():
    print(f"run.sh: Kbl {sys.argv[2]} {sys.argv[4]}: {e['count']} x {kind}: {e['sample']}", file=sys.stderr)
PY
}

# bulk: BULK_KEYS records written once over gRPC PutMany in batches of 1,000 (32 streams), timed end to end.
bulk() {
  local rc=0
  alive
  say "run.sh: Kbl bulk load of $BULK_KEYS records"
  dotnet "$loadgen_dll" --target "http://127.0.0.1:$http_port" --grpc "http://127.0.0.1:$grpc_port" \
    --protocol grpc --op get --batch 1000 --concurrency "$CONCURRENCY" --keys "$BULK_KEYS" --value-size "$VALUE_SIZE" \
    --duration 0.5 --warmup 0 --colony bulk --genome "$GENOME" --preload --json >"$tmp/kbl-bulk.json" || rc=$?
  [[ $rc -eq 0 || $rc -eq 3 ]] || die "the load generator failed (exit $rc)"
  python3 - "$tmp/kbl-bulk.json" "$round" >>"$rows" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print("\t".join([sys.argv[2], "bulk-load", "kbl grpc", f"{r['keys'] / r['preloadSeconds']:.0f}", "-", "-", "-", "-", "-", "-", "-", "-"]))
PY
}

noop() {
  local rc=0
  alive
  say "run.sh: the no-op endpoint (GET /healthz): ${WARMUP} s warm-up + ${DURATION} s"
  dotnet "$loadgen_dll" --target "http://127.0.0.1:$http_port" --protocol http --op noop --concurrency "$CONCURRENCY" \
    --duration "$DURATION" --warmup "$WARMUP" --colony bench --server-pid "$silo_pid" --json >"$tmp/noop.json" || rc=$?
  [[ $rc -eq 0 || $rc -eq 3 ]] || die "the load generator failed (exit $rc)"
  python3 - "$tmp/noop.json" "$round" >>"$rows" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
f = lambda v, d=3: "-" if v is None else f"{v:.{d}f}"
print("\t".join([sys.argv[2], "noop", "asp.net core", f"{r['opsPerSecond']:.0f}", f(r["p50Ms"]), f(r["p99Ms"]), f(r["p999Ms"]), str(r["errors"] + r["errorsOutsideWindow"]),
                 f(r["serverCpuCores"], 2), f(r["serverCpuUsPerRequest"], 0), f(r["clientCpuCores"], 2), f(r["clientCpuUsPerRequest"], 0)]))
PY
}

# wrk_run OP: the same single HTTP requests from wrk (bench/wrk.lua): WARMUP seconds first (not counted), then
# DURATION; a row like the load generator's, client "kbl http (wrk)" (or "asp.net core (wrk)" for the no-op).
wrk_run() {
  local op=$1 client="kbl http (wrk)" server0 server1 seconds
  alive
  [[ $op == noop ]] && client="asp.net core (wrk)"
  say "run.sh: wrk $op: ${WARMUP} s warm-up + ${DURATION} s"
  local env=(WRK_OP="$op" WRK_COLONY=bench WRK_KEYS="$KEYS" WRK_VALUE_SIZE="$VALUE_SIZE")
  local args=(-t 2 -c "$CONCURRENCY" -s "$root/bench/wrk.lua" "http://127.0.0.1:$http_port")
  if (( WARMUP > 0 )); then
    env "${env[@]}" wrk "${args[@]}" -d "${WARMUP}s" >/dev/null
  fi
  server0=$(cpu_ticks "$silo_pid")
  { time env "${env[@]}" wrk "${args[@]}" -d "${DURATION}s" --timeout 10s >"$tmp/wrk-$op.txt"; } 2>"$tmp/wrk-$op.time"
  server1=$(cpu_ticks "$silo_pid")
  grep -q '^wrk-result ' "$tmp/wrk-$op.txt" || { cat "$tmp/wrk-$op.txt" >&2; die "wrk printed no result"; }
  awk -v round="$round" -v op="$op" -v client="$client" -v s="$((server1 - server0))" \
    -v c="$(awk '{ printf "%d", ($1 + $2) * 100 }' "$tmp/wrk-$op.time")" '
    $1 == "wrk-result" {
      n = $2; seconds = $3
      printf "%s\t%s\t%s\t%.0f\t%.3f\t%.3f\t%.3f\t%d\t%.2f\t%.0f\t%.2f\t%.0f\n", round, op, client, n / seconds, $4, $5, $6, $7,
        s / 100 / seconds, s * 10000 / n, c / 100 / seconds, c * 10000 / n
    }' "$tmp/wrk-$op.txt" >>"$rows"
}

# redis TEST OP [PIPELINE]: a calibration run (also the warm-up), then one sized to last about DURATION seconds.
redis() {
  local test=$1 op=$2 pipeline=${3:-1} rps requests server0 server1 client
  alive
  local common=(-h 127.0.0.1 -p "$redis_port" -c "$CONCURRENCY" -r "$KEYS" -d "$VALUE_SIZE" -t "$test" -P "$pipeline" --csv)
  rps=$(redis-benchmark "${common[@]}" -n "$REDIS_CALIBRATION" | tr -d '"' | awk -F, 'NR == 2 { printf "%d", $2 }')
  [[ -n $rps && $rps -gt 0 ]] || die "redis-benchmark calibration for $test gave no rate"
  requests=$(( rps * DURATION > 10000 ? rps * DURATION : 10000 ))
  say "run.sh: Redis $test: $requests requests (~${DURATION} s at the calibrated $rps/s)"
  server0=$(cpu_ticks "$redis_pid")
  { time redis-benchmark "${common[@]}" -n "$requests" >"$tmp/redis-$test.csv"; } 2>"$tmp/redis-$test.time"
  server1=$(cpu_ticks "$redis_pid")
  client=$(awk '{ printf "%d", ($1 + $2) * 100 }' "$tmp/redis-$test.time")
  tr -d '"' <"$tmp/redis-$test.csv" |
    awk -F, -v round="$round" -v op="$op" -v client="redis $test$( (( pipeline > 1 )) && echo " -P $pipeline")" -v n="$requests" -v s="$((server1 - server0))" -v c="$client" '
      NR == 2 {
        seconds = n / $2
        printf "%s\t%s\t%s\t%.0f\t%s\t%s\t-\t-\t%.2f\t%.0f\t%.2f\t%.0f\n", round, op, client, $2, $5, $7,
          s / 100 / seconds, s * 10000 / n, c / 100 / seconds, c * 10000 / n
      }' >>"$rows"
}

# Interleaved, so that whatever else the machine is doing weighs on both sides alike.
for round in $(seq "$ROUNDS"); do
  (( ROUNDS == 1 )) || say "run.sh: round $round of $ROUNDS"
  noop
  wrk_run noop
  redis SET put
  kbl http put
  kbl grpc put
  wrk_run put
  redis GET get
  kbl http get
  kbl grpc get
  wrk_run get
  redis SET put-batch "$BATCH"
  kbl http put "$BATCH"
  kbl grpc put "$BATCH"
  redis GET get-batch "$BATCH"
  kbl http get "$BATCH"
  kbl grpc get "$BATCH"
  if (( BULK_KEYS > 0 )); then
    bulk
  fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "## Kbl vs Redis: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
  "$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)," \
  "$(. /etc/os-release && echo "$PRETTY_NAME"); .NET $(dotnet --version); $(redis-server --version | cut -d' ' -f1-3)"
echo "Code: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
echo "Load average before/after: $load_before / $load_after"
echo "Parameters: CONCURRENCY=$CONCURRENCY KEYS=$KEYS VALUE_SIZE=$VALUE_SIZE DURATION=$DURATION WARMUP=$WARMUP" \
  "BATCH=$BATCH BULK_KEYS=$BULK_KEYS GENOME='$GENOME' SILO_ARGS='${SILO_ARGS}'"
echo
python3 - "$rows" <<'PY'
import sys
from collections import OrderedDict

rows = OrderedDict()
for line in open(sys.argv[1]):
    rnd, op, client, ops, p50, p99, p999, errors, scores, sus, ccores, cus = line.rstrip("\n").split("\t")
    rows.setdefault((op, client), []).append(dict(ops=float(ops), p50=p50, p99=p99, p999=p999, errors=errors,
                                                  server=f"{scores} / {sus}", client=f"{ccores} / {cus}"))

def median(runs):
    return sorted(runs, key=lambda r: r["ops"])[(len(runs) - 1) // 2]

rounds = max(len(v) for v in rows.values())
redis = {op: median(runs)["ops"] for (op, client), runs in rows.items() if client.startswith("redis")}
redis["bulk-load"] = redis.get("put-batch")  # a bulk load's peer: Redis SET, pipelined
# Kbl/no-op compares rows driven by the same load generator: wrk's with wrk's no-op, the others with Kbl.LoadGen's.
noops = {client: median(runs)["ops"] for (op, client), runs in rows.items() if op == "noop"}
noop_of = lambda client: noops.get("asp.net core (wrk)" if client.endswith("(wrk)") else "asp.net core")
spread = " (min-max)" if rounds > 1 else ""
print(f"| op | client | records/s{spread} | p50 ms | p99 ms | p999 ms | errors | Kbl/Redis | Kbl/no-op | server CPU: cores / us per record | load-generator CPU: cores / us per record |")
print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
for (op, client), runs in rows.items():
    m = median(runs)
    ops = f"{m['ops']:.0f}"
    if rounds > 1:
        ops += f" ({min(r['ops'] for r in runs):.0f}-{max(r['ops'] for r in runs):.0f})"
    errors = "-" if m["errors"] == "-" else str(sum(int(r["errors"]) for r in runs))
    kbl = client.startswith("kbl")
    ratio = f"{m['ops'] / redis[op]:.2f}" if kbl and redis.get(op) else "-"
    noop = noop_of(client)
    to_noop = f"{m['ops'] / noop:.2f}" if kbl and noop and op in ("get", "put") else "-"
    print(f"| {op} | {client} | {ops} | {m['p50']} | {m['p99']} | {m['p999']} | {errors} | {ratio} | {to_noop} | {m['server']} | {m['client']} |")
if rounds > 1:
    print()
    print(f"Each row is its median round of {rounds} by ops/s (latencies from that round); errors are summed over all rounds.")
PY
