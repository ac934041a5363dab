#!/usr/bin/env bash
# Where a mirrored put's cost goes, by taking parts of it away: builds this commit with
# bench/experiments/decompose.patch applied (experiment switches that are not in the product: they break the
# redundancy they measure) in a throwaway git worktree, then runs bench/copies_cpu.py (two silos, a one-copy and a
# two-copy colony, puts under 32 clients) once per variant, interleaved, PASSES times:
#
#   base     the code as it is
#   nosend   the primary sends nothing and takes every copy's answer as given   (KBL_EXP_NO_SEND=1)
#   noop     the replica answers every append without writing it               (KBL_EXP_REPLICA_NOOP=1)
#   channel  appends go over a plain TCP connection between the two silos (length-prefixed, Orleans' serializer,
#            applied on the connection's reader) instead of an Orleans grain call (KBL_EXP_CHANNEL)
#
# The patch also has two knobs for runs of your own in such a worktree (python3 bench/copies_cpu.py there):
# KBL_EXP_IOQ=N (Orleans' SocketConnectionOptions.IOQueueCount) and KBL_EXP_MEMTABLE_MIB=N (the memtable size of
# the records' and the replicas' column families).
#
#   bench/decompose.sh                  # PASSES=2 VARIANTS="base nosend noop channel"
#   PASSES=1 VARIANTS="base noop" bench/decompose.sh
#
# The patch was made against commit 0b6acb7; if it no longer applies, run this script from that commit.
set -euo pipefail

PASSES=${PASSES:-2}
VARIANTS=${VARIANTS:-"base nosend noop channel"}
CHANNEL_PORTS=${CHANNEL_PORTS:-"47001 47002"}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
tree="$work/tree"
cleanup() {
    git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

git -C "$root" worktree add --detach "$tree" HEAD >/dev/null
git -C "$tree" apply "$root/bench/experiments/decompose.patch" ||
    { echo "decompose.sh: the patch does not apply to HEAD; run this script from commit 0b6acb7" >&2; exit 1; }
dotnet build "$tree/src/Silo" -c Release -m:1 --nologo -v quiet >/dev/null
dotnet build "$tree/bench/Kbl.LoadGen" -c Release -m:1 --nologo -v quiet >/dev/null

read -r port0 port1 <<<"$CHANNEL_PORTS"
for pass in $(seq 1 "$PASSES"); do
    for variant in $VARIANTS; do
        case $variant in
            base) switch=() ;;
            nosend) switch=(KBL_EXP_NO_SEND=1) ;;
            noop) switch=(KBL_EXP_REPLICA_NOOP=1) ;;
            channel) switch=(KBL_EXP_CHANNEL="s0=127.0.0.1:$port0,s1=127.0.0.1:$port1") ;;
            *) echo "decompose.sh: no variant $variant (base, nosend, noop, channel)" >&2; exit 2 ;;
        esac
        echo "== pass $pass: $variant ($(date -u +%H:%M:%S) UTC)"
        env "${switch[@]}" python3 "$tree/bench/copies_cpu.py" | tail -n +3
    done
done
