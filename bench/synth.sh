#!/usr/bin/env bash
# Times `cdk synth` of the whole app against a one-bucket app synthesized the same way
# (same CLI, same Python, same flags) and prints the medians and their ratio. Two more floors show
# the fixed cost of the checks: the same bucket with cdk-nag's checks on, and with every check
# `make synth` runs in-process (cdk-nag and the Control Tower rules, as app.py registers them).
# Runs are interleaved (floor, floors with checks, app, floor, ...) so a change in machine load
# hits all four alike.
# Usage: bash bench/synth.sh [runs] [cdk synth arguments...]   (default 5 runs each, after one
# warm-up run each). Extra arguments go to both synths, e.g. releases to include the serving stacks:
#   bash bench/synth.sh 5 -c release.dev=arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-delivery/3
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
shift $(($# > 0 ? 1 : 0))
extra=("$@")
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true
cdk="$PWD/node_modules/.bin/cdk"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

time_synth() {  # dir -> seconds of one `cdk synth`
  local dir="$1" start end
  start=$(date +%s%N)
  (cd "$dir" && "$cdk" synth --quiet "${extra[@]}" --output "$out/$(basename "$dir")" >/dev/null 2>&1)
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN {printf "%.3f\n", ns / 1e9}'
}

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }

targets=(bench/floor_app bench/floor_app_nag bench/floor_app_checks .)
declare -A samples
for target in "${targets[@]}"; do
  time_synth "$target" >/dev/null  # warm-up: jsii cache, page cache
  samples[$target]=""
done
for _ in $(seq "$runs"); do
  for target in "${targets[@]}"; do
    samples[$target]+="$(time_synth "$target")"$'\n'
  done
done

floor=$(printf '%s' "${samples[bench/floor_app]}" | median)
floor_nag=$(printf '%s' "${samples[bench/floor_app_nag]}" | median)
floor_checks=$(printf '%s' "${samples[bench/floor_app_checks]}" | median)
app=$(printf '%s' "${samples[.]}" | median)
stacks=$(find "$out/." -name '*.template.json' -not -path '*floor_app*' | wc -l)
printf 'runs each                     %d (interleaved)\n' "$runs"
printf 'one-bucket app                %s s (median)\n' "$floor"
printf 'one-bucket app with cdk-nag   %s s (median)\n' "$floor_nag"
printf 'one-bucket app, all checks    %s s (median: cdk-nag and the Control Tower rules)\n' "$floor_checks"
printf 'this app                      %s s (median, %d stacks)\n' "$app" "$stacks"
awk -v a="$app" -v f="$floor" 'BEGIN {printf "ratio                         %.2f\n", a / f}'
awk -v a="$app" -v f="$floor_nag" 'BEGIN {printf "ratio to the cdk-nag floor    %.2f\n", a / f}'
# The target: building this app costs at most 2.5 times running the same checks on one bucket.
awk -v a="$app" -v f="$floor_checks" 'BEGIN {printf "ratio to the all-checks floor %.2f (target <= 2.5)\n", a / f}'
