#!/usr/bin/env bash
# Installs what the test suite needs and is not on a fresh machine. Idempotent; runs as root here (CI too).
set -euo pipefail

missing=()
command -v dotnet >/dev/null || { echo "the .NET SDK 10 is required (dotnet not on PATH)" >&2; exit 1; }
command -v redis-server >/dev/null || missing+=(redis-server)
# The CDK stack's tests (tests/Kbl.Cdk.Tests) synthesize through jsii, which runs the CDK's JavaScript on node.
command -v node >/dev/null || missing+=(nodejs)
# The tree view tests (tests/Kbl.Tests/Ui) drive Debian's chromium through Playwright: no browser download.
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The manifest tests (tests/Kbl.Tests/Deployment) render k8s/ with kubectl's kustomize, which must be 5.x (the
# kustomizations use `labels` and `patches`). kubectl 1.32 with kustomize 5.5 is preinstalled on this kind of machine;
# Debian's own kubernetes-client (1.20, kustomize 2) is too old to stand in for it.
kustomize=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')
if [ "${kustomize:-0}" -lt 5 ]; then
  echo "the manifest tests need kubectl with kustomize 5.x (kubectl >= 1.27; 'kubectl version --client' shows it): install kubectl from https://kubernetes.io/docs/tasks/tools/" >&2
  exit 1
fi

# dynalite (DynamoDB on LevelDB) for the DynamoDB storage tests, in tests/tools (git-ignored); needs Node.js + npm.
tools="$(cd "$(dirname "$0")/.." && pwd)/tests/tools"
if [ ! -f "$tools/node_modules/dynalite/cli.js" ]; then
  if ! command -v npm >/dev/null; then
    echo "installing: nodejs npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
  fi
  echo "installing: dynalite@4.0.0 into tests/tools"
  npm install --prefix "$tools" dynalite@4.0.0 --no-audit --no-fund --loglevel=error
fi

# moto's AWS server (a second DynamoDB implementation) for the same tests.
if ! command -v moto_server >/dev/null; then
  echo "installing: moto[server]"
  # Debian's own Python refuses pip installs into it (PEP 668) unless told to.
  python3 -m pip install --quiet 'moto[server]' || python3 -m pip install --quiet --break-system-packages 'moto[server]'
fi
