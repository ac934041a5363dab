#!/usr/bin/env bash
# Two builds of the silo side by side, in one invocation: starts silo A (built from BEFORE, a directory holding
# Kbl.Silo.dll) and silo B (AFTER, default: this checkout's Release build) on free loopback ports, both with their
# default settings, and drives the same load at each in turn (interleaved rounds, so the machine's noise weighs on
# both alike). Prints one table: ops/s, p50/p99 and server CPU per request of each, and the ratio B/A. This is how
# the performance changes in docs/benchmarks.md were measured.
#
#   git worktree add /tmp/kbl-before <commit> && dotnet build /tmp/kbl-before/src/Silo -c Release
#   bench/ab.sh /tmp/kbl-before/src/Silo/bin/Release/net10.0            # A = that commit, B = this checkout
#   OPS="get put" ROUNDS=3 DURATION=10 bench/ab.sh DIR_A [DIR_B]
#   LOADGEN_ARGS="--batch 16" bench/ab.sh DIR_A                          # extra load-generator arguments
#   SILO_ARGS="--Kbl:Provisioning:Provider=off" bench/ab.sh DIR_A        # extra settings for both silos
set -euo pipefail

OPS=${OPS:-"get put"}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
CONCURRENCY=${CONCURRENCY:-32}
PROTOCOL=${PROTOCOL:-http}
GENOME=${GENOME:-'{"redundancy":{"mode":"none"}}'}
LOADGEN_ARGS=${LOADGEN_ARGS:-}
SILO_ARGS=${SILO_ARGS:-}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '%s\n' "$*" >&2; }
die() { say "ab.sh: $*"; exit 1; }
[[ $# -ge 1 ]] || die "usage: bench/ab.sh DIR_A [DIR_B] (directories holding Kbl.Silo.dll)"
dir_a=$(cd "$1" && pwd)
dir_b=$(cd "${2:-$root/src/Silo/bin/Release/net10.0}" && pwd)
[[ -f $dir_a/Kbl.Silo.dll && -f $dir_b/Kbl.Silo.dll ]] || die "no Kbl.Silo.dll in $dir_a or $dir_b"
for n in ROUNDS DURATION CONCURRENCY; do [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n must be a whole number >= 1"; done

loadgen_dll=$root/bench/Kbl.LoadGen/bin/Release/net10.0/Kbl.LoadGen.dll
[[ -f $loadgen_dll ]] || dotnet build "$root/bench/Kbl.LoadGen" -c Release -m:1 -nologo -v q >&2 || die "the load generator did not build"

tmp=$(mktemp -d -t kbl-ab.XXXXXX)
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ $rc -eq 0 ]] && rm -rf "$tmp" || say "ab.sh: failed (exit $rc); logs kept in $tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r -a ports < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(8)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()')

# start NAME DIR HTTP GRPC SILO GATEWAY: a silo with its default settings (the local provider included) and SILO_ARGS.
start() {
  mkdir -p "$tmp/$1"
  # shellcheck disable=SC2086 # SILO_ARGS is a list of arguments
  (cd "$tmp/$1" && exec dotnet "$2/Kbl.Silo.dll" --urls "http://127.0.0.1:$3" --Kbl:Gateway:GrpcPort="$4" \
    --Kbl:DataPath="$tmp/$1/data" --Kbl:Storage:Sqlite:Path="$tmp/$1/meta.db" \
    --Kbl:Cluster:SiloPort="$5" --Kbl:Cluster:GatewayPort="$6" $SILO_ARGS) >"$tmp/$1.log" 2>&1 &
  pids+=($!)
}
start a "$dir_a" "${ports[0]}" "${ports[1]}" "${ports[2]}" "${ports[3]}"
start b "$dir_b" "${ports[4]}" "${ports[5]}" "${ports[6]}" "${ports[7]}"
for port in "${ports[0]}" "${ports[4]}"; do
  for _ in $(seq 120); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || die "the silo on port $port was not ready after 60 s (logs in $tmp)"
done

rows=$tmp/rows.tsv
: >"$rows"
# run SILO OP ROUND: one load-generator run at silo a or b.
run() {
  local http grpc pid extra=() rc=0
  if [[ $1 == a ]]; then http=${ports[0]} grpc=${ports[1]} pid=${pids[0]}; else http=${ports[4]} grpc=${ports[5]} pid=${pids[1]}; fi
  [[ $2 == get && $3 == 1 ]] && extra=(--preload)
  say "ab.sh: round $3: $1 $2"
  # shellcheck disable=SC2086 # LOADGEN_ARGS is a list of arguments
  dotnet "$loadgen_dll" --target "http://127.0.0.1:$http" --grpc "http://127.0.0.1:$grpc" --protocol "$PROTOCOL" --op "$2" \
    --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" --colony ab --genome "$GENOME" \
    --server-pid "$pid" --json "${extra[@]}" $LOADGEN_ARGS >"$tmp/out.json" || rc=$?
  [[ $rc -eq 0 || $rc -eq 3 ]] || die "the load generator failed (exit $rc)"
  python3 - "$tmp/out.json" "$1" "$2" >>"$rows" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print("\t".join([sys.argv[2], sys.argv[3], str(r["opsPerSecond"]), str(r["p50Ms"]), str(r["p99Ms"]), str(r["serverCpuUsPerRequest"]), str(r["errors"])]))
PY
}

for round in $(seq "$ROUNDS"); do
  for op in $OPS; do
    if (( round % 2 )); then run a "$op" "$round"; run b "$op" "$round"; else run b "$op" "$round"; run a "$op" "$round"; fi
  done
done

echo "## A/B: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1); .NET $(dotnet --version)"
echo "A: $dir_a"
echo "B: $dir_b ($(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'))"
echo "Parameters: PROTOCOL=$PROTOCOL CONCURRENCY=$CONCURRENCY DURATION=$DURATION WARMUP=$WARMUP ROUNDS=$ROUNDS GENOME='$GENOME' LOADGEN_ARGS='$LOADGEN_ARGS' SILO_ARGS='$SILO_ARGS'"
echo
python3 - "$rows" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    silo, op, ops, p50, p99, us, errors = line.split("\t")
    rows.setdefault((op, silo), []).append((float(ops), float(p50), float(p99), float(us) if us != "None" else float("nan"), int(errors)))
med = lambda xs: statistics.median(xs)
print("| op | A ops/s | B ops/s | B/A | A p50 / p99 ms | B p50 / p99 ms | A server us/op | B server us/op | B/A CPU | errors |")
print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
for op in dict.fromkeys(op for op, _ in rows):
    a, b = rows[(op, "a")], rows[(op, "b")]
    m = lambda runs, i: med([r[i] for r in runs])
    print(f"| {op} | {m(a,0):.0f} | {m(b,0):.0f} | {m(b,0)/m(a,0):.2f} | {m(a,1):.2f} / {m(a,2):.2f} | {m(b,1):.2f} / {m(b,2):.2f} | {m(a,3):.0f} | {m(b,3):.0f} | {m(b,3)/m(a,3):.2f} | {sum(r[4] for r in a + b)} |")
print()
print(f"Medians of {len(next(iter(rows.values())))} interleaved rounds each.")
PY
