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
# --blame-hang-timeout: a test that hangs is stopped and named instead of holding CI until its hard limit.
dotnet test Kbl.sln --no-build -m:1 -c Debug --nologo --blame-hang-timeout 10m --blame-hang-dump-type none \
  --logger "trx" --results-directory "$results" 2>&1 | tee "$log" || status=$?

# The slowest tests, so the suite's time (CI keeps it under 20 minutes) has names attached.
python3 scripts/slowest-tests.py "$results" 12 || true
# A test host that crashed: the blame collector's sequence names the tests it had started last (with their cases).
for sequence in "$results"/*/Sequence_*.xml; do
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
