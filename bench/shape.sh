#!/usr/bin/env bash
# The shape of a colony under ascending keys, before and after a change, in one invocation: builds the silo of the
# working tree and of git ref BEFORE (default: the last commit before balanced colonies), runs bench/Kbl.ShapeBench
# against each (a fresh silo, KEYS ascending keys through HTTP, the default genome unless GENOME says otherwise) and
# prints one table: height, leaves, KBLs, longest KBL id, load time, a new gateway's first request (ms and grain
# calls), and the aggregate's median latency.
#
#   bench/shape.sh                       # 1,000,000 keys, 32 requests in flight
#   KEYS=100000 GENOME='{"splitKeys":1000}' bench/shape.sh
set -euo pipefail

KEYS=${KEYS:-1000000}
CONCURRENCY=${CONCURRENCY:-32}
GENOME=${GENOME:-'{}'}
BEFORE=${BEFORE:-9b0263a}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d -t kbl-shape.XXXXXX)
trap 'git -C "$root" worktree remove --force "$tmp/before" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

echo "shape.sh: building the working tree and $BEFORE (Release)" >&2
dotnet build "$root/src/Silo/Silo.csproj" -c Release -m:1 -nologo -v q >"$tmp/build-after.log" 2>&1 || { tail -20 "$tmp/build-after.log" >&2; exit 1; }
dotnet build "$root/bench/Kbl.ShapeBench/Kbl.ShapeBench.csproj" -c Release -m:1 -nologo -v q >>"$tmp/build-after.log" 2>&1 || { tail -20 "$tmp/build-after.log" >&2; exit 1; }
git -C "$root" worktree add --detach "$tmp/before" "$BEFORE" >/dev/null 2>&1
dotnet build "$tmp/before/src/Silo/Silo.csproj" -c Release -m:1 -nologo -v q >"$tmp/build-before.log" 2>&1 || { tail -20 "$tmp/build-before.log" >&2; exit 1; }

bench=$root/bench/Kbl.ShapeBench/bin/Release/net10.0/Kbl.ShapeBench.dll
for side in before after; do
  silo=$([[ $side == before ]] && echo "$tmp/before/src/Silo/bin/Release/net10.0/Kbl.Silo.dll" || echo "$root/src/Silo/bin/Release/net10.0/Kbl.Silo.dll")
  echo "shape.sh: $side: $KEYS ascending keys" >&2
  dotnet "$bench" --silo "$silo" --label "$side" --keys "$KEYS" --concurrency "$CONCURRENCY" --genome "$GENOME" 2>"$tmp/$side.log" >>"$tmp/results.jsonl" ||
    { tail -20 "$tmp/$side.log" >&2; exit 1; }
done

python3 - "$tmp/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cols = [("label", "code"), ("height", "height"), ("leaves", "leaves"), ("kbls", "KBLs"), ("longestId", "longest id"),
        ("loadSeconds", "load s"), ("putsPerSecond", "puts/s"), ("coldRouteCalls", "cold route calls"),
        ("coldRouteMs", "cold route ms"), ("warmRouteMs", "warm route ms"), ("aggregateMedianMs", "aggregate ms")]
print("| " + " | ".join(h for _, h in cols) + " |")
print("|" + "---|" * len(cols))
for r in rows:
    print("| " + " | ".join(str(r[k]) for k, _ in cols) + " |")
PY
