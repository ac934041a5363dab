#!/usr/bin/env bash
# Redundancy on this machine, in one invocation: three Kbl silo processes on Redis membership (shipped membership
# timings), a redis-server (appendonly, fsync every second) and a three-member etcd cluster, all on loopback.
#   1. put and get throughput and latency of colonies with copies 1, 2 and 3 (bench/Kbl.LoadGen over HTTP), Redis
#      (redis-benchmark) and etcd (LoadGen through etcd's HTTP/JSON gateway), same concurrency, keys and values;
#   2. failover: kill -9 of the silo holding a copies-2 leaf's primary, and the time until every key is served
#      again, until a write is acknowledged, and until two copies are in sync again;
#   3. rebuild: kill -9 of the silo holding the replica of a larger leaf; the snapshot bytes installed on the new
#      replica, how long until two copies were in sync again, and how long the snapshot took to stream and install.
#
#   bench/redundancy.sh                     # defaults below
#   DURATION=30 CONCURRENCY=64 bench/redundancy.sh
#   REBUILD_KEYS=50000 REBUILD_VALUE=1024 bench/redundancy.sh
#   GROUP_COMMIT=false bench/redundancy.sh  # each write a grain call of its own (the peer of the default)
#   REBUILD_RATE=1000000000 bench/redundancy.sh  # Kbl:RebuildBytesPerSecond for the silos (default 32 MiB/s)
#   SKIP_BUILD=1 bench/redundancy.sh        # use the Release binaries already built
#   PARTS=failover FAILOVERS=12 bench/redundancy.sh   # only the failover, twelve kills in a row (median and max)
#   PAUSE=1 PARTS=failover bench/redundancy.sh        # SIGSTOP the primary's silo instead of killing it
#   SILO_ARGS="--Kbl:Cluster:ProbeTimeout=00:00:02" bench/redundancy.sh   # more settings for every silo
#   KEEP_LOGS=1 bench/redundancy.sh         # keep the processes' logs (kept anyway when the run fails)
#   PLOT=docs/images/redundancy.png bench/redundancy.sh   # where the plot of part 1 goes (default: that; empty: none)
#
# It needs redis-server, etcd and matplotlib (Debian: apt-get install redis-server etcd-server python3-matplotlib;
# installed here when run as root). Everything it starts is stopped on exit; its temp folder is removed unless the run failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '%s\n' "$*" >&2; }
die() { say "redundancy.sh: $*"; exit 1; }

missing=()
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || missing+=(redis-server)
command -v etcd >/dev/null || missing+=(etcd-server)
# The driver runs on a Python that has matplotlib for the plot: Debian's when the first on PATH (pyenv, say) has not.
python=python3
if [[ -n ${PLOT-x} ]] && ! python3 -c 'import matplotlib' 2>/dev/null; then
  if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    python=/usr/bin/python3
  else
    missing+=(python3-matplotlib)
    python=/usr/bin/python3
  fi
fi
if (( ${#missing[@]} > 0 )); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "redundancy.sh: apt-get install -y ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2
  else
    die "${missing[*]} needed (Debian: apt-get install ${missing[*]})"
  fi
fi
for tool in dotnet python3; do
  command -v "$tool" >/dev/null || die "$tool is needed and not installed"
done

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  say "redundancy.sh: building Release"
  for project in src/Silo/Silo.csproj bench/Kbl.LoadGen/Kbl.LoadGen.csproj; do
    dotnet build "$root/$project" -c Release -m:1 -nologo -v q >/dev/null || die "build of $project failed"
  done
fi

"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' || die "$python is older than 3.9"
exec "$python" "$root/bench/redundancy.py" "$root"
