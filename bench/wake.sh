#!/usr/bin/env bash
# Hibernation on this machine, in one invocation (bench/wake.py):
#   1. wake latency: a leaf of 1,000, 10,000 and 100,000 records of 100 bytes is hibernated on demand and woken by a
#      GET, ROUNDS times (a quarter of that above 10,000), from the local cold tier and from S3 on moto_server; the
#      same leaf's warm GET latency is the peer. A silo of the group is up: this is the leaf's wake alone.
#   2. cold start: a colony on node group `cold` (Kbl:Provisioning:GroupMinNodes:cold=0) with the local provider; its
#      leaf hibernates, the group's silo stops; a GET is timed with when a silo of the group joined and how long
#      the wake took (from that silo's log), COLD_STARTS times.
#
#   bench/wake.sh
#   SIZES=1000,10000 ROUNDS=40 bench/wake.sh
#   COLD_STARTS=0 bench/wake.sh              # the wake latencies only
#   SKIP_BUILD=1 bench/wake.sh              # use the Release binaries already built
#
# It needs moto_server (pip install 'moto[server]'). Everything it starts is stopped on exit; its temp folder is
# removed unless the run failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { printf 'wake.sh: %s\n' "$*" >&2; exit 1; }

for tool in dotnet python3 moto_server; do
  command -v "$tool" >/dev/null || die "$tool is needed and not installed"
done

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  printf 'wake.sh: building Release\n' >&2
  dotnet build "$root/src/Silo/Silo.csproj" -c Release -m:1 -nologo -v q >/dev/null || die "build of the silo failed"
fi

exec python3 "$root/bench/wake.py" "$root"
