#!/usr/bin/env bash
# Writes results/multi30k-de-en/ from a finished run of the multi30k-de-en preset:
# the run's own files (settings, metrics, log), then the test-set BLEU of its
# 15- and 30-minute snapshots and of the best model, greedy and beam 4, as JSON.
# Usage: scripts/results/multi30k.sh RUN_DIR  (from the repository root, after
#   go run ./cmd/goformer train --preset multi30k-de-en --out RUN_DIR 2> RUN_DIR.stderr)
set -euo pipefail
run=$1
out=results/multi30k-de-en
mkdir -p "$out"
go build -o /tmp/goformer-results ./cmd/goformer
cp "$run/metrics.jsonl" "$run/train_config.json" "$out/"
cp "$run/loss.png" "$run/bleu.png" "$out/" 2>/dev/null || true
for m in model-15min model-30min model; do
  for beam in 1 4; do
    /tmp/goformer-results eval --model "$run/$m" --beam "$beam" --json > "$out/eval-$m-beam$beam.json"
    cat "$out/eval-$m-beam$beam.json"
  done
done
