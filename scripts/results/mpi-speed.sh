#!/usr/bin/env bash
# Writes results/mpi-speed/: the cost of data-parallel training made visible on one 2-core machine.
# For each preset, the same global batch (two batches per step, the same ones) three ways:
#   one     — 1 process × 2 threads, accumulating the two batches (gradient_accumulation_steps 2)
#   two     — mpirun -np 2, 1 thread each, gradients summed in 1 MB buckets during the backward pass
#   two-end — mpirun -np 2, 1 thread each, gradients summed in one bucket after the backward pass
# and reports the median time of a step (steps 3…K, no evaluation among them), the tokens per
# second, the time a step waited for the other rank after its backward pass (comm_wait_s), and the
# bytes each rank sends per step. Needs Open MPI and a C compiler (go build -tags mpi).
# Usage: scripts/results/mpi-speed.sh   (from the repository root; about 10 minutes)
set -euo pipefail
out=results/mpi-speed
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
go build -tags mpi -o /tmp/goformer-mpi ./cmd/goformer
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
field() { grep -o "\"$2\":[^,}]*" "$1" | cut -d: -f2; }
summary() { # metrics.jsonl → median step seconds (steps 3…K), mean tokens/s and comm wait over them
  local med tok wait n
  med=$(field "$1" elapsed_s | awk 'NR > 1 { if (NR > 2) print $1 - p; p = $1 }' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  tok=$(field "$1" tokens_per_s | awk 'NR > 2 { s += $1; n++ } END { printf "%.0f", s / n }')
  wait=$(field "$1" comm_wait_s | awk 'NR > 2 { s += $1; n++ } END { printf "%.4f", n ? s / n : 0 }')
  n=$(($(wc -l < "$1") - 2))
  printf '{"median_step_s": %.4f, "tokens_per_s": %s, "comm_wait_s": %s, "steps_timed": %d}' "$med" "$tok" "$wait" "$n"
}
echo "[" > "$out/summary.json"
first=1
for spec in shakespeare-char-small:60 multi30k-de-en:24; do
  preset=${spec%%:*} steps=${spec#*:}
  settings='"eval_interval": 100000' extra=(--samples=false)
  if [ "$preset" = multi30k-de-en ]; then settings+=', "snapshot_minutes": [], "warmup_steps": 10' extra=(); fi
  echo "{$settings, \"gradient_accumulation_steps\": 2}" > "$tmp/one.json"
  echo "{$settings}" > "$tmp/two.json"
  for mode in one two two-end; do
    run="$tmp/$preset-$mode"
    cmd=(train --preset "$preset" --steps "$steps" --out "$run" "${extra[@]}")
    case $mode in
      one) cmd=(/tmp/goformer-mpi "${cmd[@]}" --config "$tmp/one.json" --threads 2) ;;
      two) cmd=(mpirun --oversubscribe -np 2 /tmp/goformer-mpi "${cmd[@]}" --config "$tmp/two.json" --threads 1) ;;
      two-end) cmd=(mpirun --oversubscribe -np 2 /tmp/goformer-mpi "${cmd[@]}" --config "$tmp/two.json" --threads 1 --mpi-bucket-mb 0) ;;
    esac
    echo "== $preset $mode: ${cmd[*]}"
    "${cmd[@]}" > /dev/null 2> "$run.stderr"
    tr '\r' '\n' < "$run.stderr" | grep -v '^step [0-9]*/' > "$out/$preset-$mode-log.txt" || true
    cp "$run/metrics.jsonl" "$out/$preset-$mode-metrics.jsonl"
    s=$(summary "$run/metrics.jsonl")
    echo "   $s"
    [ $first = 1 ] || echo "," >> "$out/summary.json"
    first=0
    printf '{"preset": "%s", "mode": "%s", "command": "%s", %s' "$preset" "$mode" "${cmd[*]}" "${s#\{}" >> "$out/summary.json"
  done
done
echo "]" >> "$out/summary.json"
lscpu | grep -E 'Model name|^CPU\(s\)' > "$out/machine.txt"
mpirun --version | head -1 >> "$out/machine.txt"
