#!/usr/bin/env bash
# Where a request's CPU goes: starts a Release silo with perf maps on, drives OP (get or put, one-copy colony) at it
# with bench/Kbl.LoadGen, samples the silo with `perf record -g` for SECONDS once it is warm (tiered JIT done), and
# prints the samples' share by area (kernel scheduling, kernel network, runtime, Kestrel, Orleans, Kbl, RocksDB, …,
# by each sample's innermost frame) and the heaviest functions. Needs `perf` (Debian: linux-perf) and a Release build
# (bench/run.sh builds one).
#
#   bench/profile.sh get              # or put
#   SECONDS_SAMPLED=20 LOADGEN_ARGS="--protocol grpc" bench/profile.sh get
set -euo pipefail

OP=${1:-get}
SECONDS_SAMPLED=${SECONDS_SAMPLED:-12}
LOADGEN_ARGS=${LOADGEN_ARGS:-}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '%s\n' "$*" >&2; }
die() { say "profile.sh: $*"; exit 1; }
[[ $OP == get || $OP == put ]] || die "OP must be get or put (got '$OP')"
command -v perf >/dev/null || die "perf is needed (Debian: apt-get install linux-perf)"
silo_dll=$root/src/Silo/bin/Release/net10.0/Kbl.Silo.dll
loadgen_dll=$root/bench/Kbl.LoadGen/bin/Release/net10.0/Kbl.LoadGen.dll
[[ -f $silo_dll && -f $loadgen_dll ]] || die "build Release first (bench/run.sh does, or dotnet build -c Release)"

tmp=$(mktemp -d -t kbl-profile.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
read -r http grpc silo gateway < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()')

# Perf maps name JIT-compiled frames; without W^X the JIT code is mapped where perf can read those names.
(cd "$tmp" && DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 exec dotnet "$silo_dll" --urls "http://127.0.0.1:$http" \
  --Kbl:Gateway:GrpcPort="$grpc" --Kbl:DataPath="$tmp/data" --Kbl:Storage:Sqlite:Path="$tmp/meta.db" \
  --Kbl:Cluster:SiloPort="$silo" --Kbl:Cluster:GatewayPort="$gateway") >"$tmp/silo.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do curl -fs "http://127.0.0.1:$http/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs "http://127.0.0.1:$http/readyz" >/dev/null || die "the silo was not ready after 60 s"

warm=20
# shellcheck disable=SC2086 # LOADGEN_ARGS is a list of arguments
dotnet "$loadgen_dll" --target "http://127.0.0.1:$http" --grpc "http://127.0.0.1:$grpc" --op "$OP" --preload \
  --duration $((warm + SECONDS_SAMPLED + 5)) --warmup 2 --colony profile --genome '{"redundancy":{"mode":"none"}}' $LOADGEN_ARGS \
  >"$tmp/load.txt" 2>&1 &
pids+=($!)
sleep "$warm"
perf record -F 999 -g -p "${pids[0]}" -o "$tmp/perf.data" -- sleep "$SECONDS_SAMPLED" >/dev/null 2>&1
wait "${pids[1]}" || true
tail -n 3 "$tmp/load.txt"
perf script -F pid,ip,sym,dso -i "$tmp/perf.data" 2>/dev/null >"$tmp/script.txt"
echo
python3 - "$tmp/script.txt" "$root/bench" <<'PY'
import collections, sys
sys.path.insert(0, sys.argv[2])
from benchlib import perf_samples
by_area, by_function, total = collections.Counter(), collections.Counter(), 0
for _, area, function in perf_samples(open(sys.argv[1]).read()):
    total += 1
    by_area[area] += 1
    by_function[function] += 1
print(f"{total} samples; share by area (innermost frame):")
for name, n in by_area.most_common():
    print(f"  {100 * n / total:5.1f} %  {name}")
print("heaviest functions (self):")
for name, n in by_function.most_common(12):
    print(f"  {100 * n / total:5.1f} %  {name}")
PY
