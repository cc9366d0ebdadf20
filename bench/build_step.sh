#!/usr/bin/env bash
# Times the pipeline's build step as CodeBuild runs it: the install (a fresh venv and a fresh
# node_modules, as on every build) with cold download caches and then with the warm caches the
# step keeps between runs (constructs/delivery/delivery_pipeline.py, DOWNLOAD_CACHE_PATHS), then the step's
# commands (`make test`, `make synth`) in this checkout. resolve-release needs AWS and is left out.
# Usage: bash bench/build_step.sh [--installs-only | --commands-only]
# The cold install downloads every pinned package from PyPI and npm once; nothing outside a
# temporary directory is written.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-all}"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true
declare -a figures

timed() {  # label, command... -> records "label seconds"
  local label="$1" start end
  shift
  start=$(date +%s%N)
  "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; echo "failed: $label" >&2; exit 1; }
  end=$(date +%s%N)
  figures+=("$(awk -v l="$label" -v ns=$((end - start)) 'BEGIN {printf "%-44s %7.1f s\n", l, ns / 1e9}')")
}

pip_install() {  # venv directory; PIP_CACHE_DIR chooses the cache
  "$python" -m venv "$1"
  "$1/bin/python" -m pip install --quiet --upgrade pip
  "$1/bin/python" -m pip install --quiet -r requirements-dev.txt
}

npm_install() {  # directory; npm_config_cache chooses the cache
  mkdir -p "$1"
  cp package.json package-lock.json "$1/"
  (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
}

if [[ "$mode" != --commands-only ]]; then
  export PIP_CACHE_DIR="$work/pip-cache" npm_config_cache="$work/npm-cache"
  timed "pip install, cold cache" pip_install "$work/venv-cold"
  timed "pip install, warm cache" pip_install "$work/venv-warm"
  timed "npm ci, cold cache" npm_install "$work/npm-cold"
  timed "npm ci, warm cache" npm_install "$work/npm-warm"
  for cache in "$PIP_CACHE_DIR" "$npm_config_cache"; do
    figures+=("$(printf '%-44s %7s\n' "size of $(basename "$cache")" "$(du -sh "$cache" 2>/dev/null | cut -f1 || echo none)")")
  done
  # Wheels from a local index or find-links are never downloaded, so there is nothing to cache:
  # the cold and warm figures then differ only by machine load.
  figures+=("pip sources: $("$python" -m pip config list 2>/dev/null | grep -E 'index-url|find-links' | tr '\n' ' ' || true)")
  unset PIP_CACHE_DIR npm_config_cache
fi
if [[ "$mode" != --installs-only ]]; then
  timed "make test (ruff, mypy, pytest -n auto)" make test
  timed "make synth (cdk synth, cdk-nag, cfn-lint)" make synth
fi
echo "Build step on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg):"
printf '  %s\n' "${figures[@]}"
