#!/usr/bin/env bash
# Writes results/debian-summarize/ from a finished run of the debian-summarize
# preset: the run's own files (settings, metrics), then the test-split ROUGE
# (stemmed, beside the lead baseline) of its 15- and 30-minute snapshots and of
# the best model (by validation ROUGE-L), of the last and of the checkpoint
# average (model-average, average.json, when the run kept one), greedy and with the
# model's own generation settings (generation_config.json: 8 beams, no repeated
# trigram, early_stopping false), as JSON; the kept model also with
# early_stopping true, the setting before (eval-model-beam8-early.json).
# Usage: scripts/results/debian-summarize.sh RUN_DIR [OUT_DIR]  (from the repository root,
#   after go run ./cmd/goformer train --preset debian-summarize --out RUN_DIR 2> RUN_DIR.stderr;
#   OUT_DIR defaults to results/debian-summarize, the preset's record: give a subfolder
#   for a run that is not the preset's, e.g. one with a --config override)
set -euo pipefail
run=$1
out=${2:-results/debian-summarize}
mkdir -p "$out"
go build -o /tmp/goformer-results ./cmd/goformer
cp "$run/metrics.jsonl" "$run/train_config.json" "$out/"
cp "$run/loss.png" "$run/rougeL.png" "$out/" 2>/dev/null || true
models="model-15min model-30min model model-last"
if [ -d "$run/model-average" ]; then
  cp "$run/average.json" "$out/"
  models="$models model-average"
fi
for m in $models; do
  /tmp/goformer-results eval --model "$run/$m" --beams 1 --max-length 48 --no-repeat-ngram-size 0 --json > "$out/eval-$m-greedy.json"
  cat "$out/eval-$m-greedy.json"
  /tmp/goformer-results eval --model "$run/$m" --beams 8 --max-length 48 --no-repeat-ngram-size 3 --early-stopping false --json > "$out/eval-$m-beam8.json"
  cat "$out/eval-$m-beam8.json"
done
/tmp/goformer-results eval --model "$run/model" --beams 8 --max-length 48 --no-repeat-ngram-size 3 --early-stopping true --json > "$out/eval-model-beam8-early.json"
cat "$out/eval-model-beam8-early.json"
