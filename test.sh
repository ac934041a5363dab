#!/usr/bin/env bash
# The whole test suite, on a fresh machine of this kind: installs what the tests need, builds, runs every test
# and ends with one line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"

scripts/install-test-deps.sh

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Kbl.sln -m:1 -c Debug --nologo -v quiet
log=$(mktemp)
results=$(mktemp -d)
status=0
# Two streams at once, one per core: the in-process clusters (Category=Cluster) and everything else (real processes,
# servers, the browser, unit tests); each runs one test collection at a time (tests/Kbl.Tests/AssemblyInfo.cs). They
# mostly wait on timers and failure detection, so side by side each takes about as long as alone (README, Tests).
# Then, alone, the tests whose silos start silo processes of their own (the local provider) and the Provisioner's:
# the product's deadlines there include a silo process starting on a busy machine.
# --blame-hang-timeout: a test that hangs is stopped and named instead of holding CI until its hard limit.
provisioning="FullyQualifiedName~ProvisioningTests|FullyQualifiedName~ProvisionerProcessTests"
stream() {
  local name=$1 target=$2 filter=$3
  dotnet test "$target" --no-build -m:1 -c Debug --nologo --filter "$filter" \
    --blame-hang-timeout 10m --blame-hang-dump-type none --logger "trx" --results-directory "$results/$name" 2>&1 |
    sed -u "s/^/[$name] /" | tee -a "$log"
}
stream clusters tests/Kbl.Tests/Kbl.Tests.csproj "Category=Cluster" & clusters=$!
stream others Kbl.sln "Category!=Cluster&FullyQualifiedName!~ProvisioningTests&FullyQualifiedName!~ProvisionerProcessTests" & others=$!
wait "$clusters" || status=$?
wait "$others" || status=$?
stream provisioning tests/Kbl.Tests/Kbl.Tests.csproj "$provisioning" || status=$?

# The slowest tests, so the suite's time (CI keeps it under 20 minutes) has names attached.
python3 scripts/slowest-tests.py "$results" 12 || true
# A test host that crashed: the blame collector's sequence names the tests it had started last (with their cases).
for sequence in "$results"/*/*/Sequence_*.xml; do
  if [[ -f $sequence ]] && grep -q "aborted" "$log"; then
    echo "a test host crashed; the last tests it started:"
    { grep -oE 'Name="[^"]*"' "$sequence" || true; } | tail -n 5 | sed 's/^/  /'
  fi
done
rm -rf "$results"

# dotnet test prints one summary per test assembly: "Passed!  - Failed: 0, Passed: 77, Skipped: 0, ..."
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the run itself broke (a crash, a build error): count it
fi
echo "$passed passed, $failed failed"
exit "$status"
