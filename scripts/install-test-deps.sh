#!/usr/bin/env bash
# Installs what the test suite needs and is not on a fresh machine. Idempotent; runs as root here (CI too).
set -euo pipefail

missing=()
command -v dotnet >/dev/null || { echo "the .NET SDK 10 is required (dotnet not on PATH)" >&2; exit 1; }
command -v redis-server >/dev/null || missing+=(redis-server)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
