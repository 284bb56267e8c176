#!/usr/bin/env bash
# Writes results/multi30k-de-en/ (or OUT) from a finished run of the multi30k-de-en preset
# (or multi30k-de-en-t5): the run's own files (settings, metrics), then the test-set BLEU of its
# 15- and 30-minute snapshots and of the best model, greedy and beam 4, as JSON.
# Usage: scripts/results/multi30k.sh RUN_DIR [OUT]  (from the repository root, after
#   go run ./cmd/goformer train --preset multi30k-de-en --out RUN_DIR 2> RUN_DIR.stderr)
# The T5 run: scripts/results/multi30k.sh RUN_DIR results/multi30k-de-en-t5, after
#   go run ./cmd/goformer train --preset multi30k-de-en-t5 --out RUN_DIR 2> RUN_DIR.stderr
set -euo pipefail
run=$1
out=${2:-results/multi30k-de-en}
mkdir -p "$out"
go build -o /tmp/goformer-results ./cmd/goformer
cp "$run/metrics.jsonl" "$run/train_config.json" "$out/"
cp "$run/loss.png" "$run/bleu.png" "$out/" 2>/dev/null || true
if [ -f "$run.stderr" ] && [ ! -f "$out/train.log" ]; then tr '\r' '\n' < "$run.stderr" | grep -v '^step [0-9]*/' > "$out/train.log" || true; fi
for m in model-15min model-30min model; do
  for beam in 1 4; do
    /tmp/goformer-results eval --model "$run/$m" --beam "$beam" --json > "$out/eval-$m-beam$beam.json"
    cat "$out/eval-$m-beam$beam.json"
  done
done
