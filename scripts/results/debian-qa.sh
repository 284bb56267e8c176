#!/usr/bin/env bash
# Writes results/debian-qa/ from finished runs of the debian-mlm and debian-qa presets: the runs'
# own files (settings, metrics), then exact match and F1 on the test split of the built-in Debian
# cloze set (1,787 questions) for the fine-tuned model (pretrained with debian-mlm) and for the
# same fine-tuning from scratch, with questions per second, as JSON.
# Usage: scripts/results/debian-qa.sh MLM_RUN QA_RUN SCRATCH_RUN  (from the repository root, after
#   go run ./cmd/goformer train --preset debian-mlm --out MLM_RUN 2> MLM_RUN.stderr
#   go run ./cmd/goformer train --preset debian-qa --init MLM_RUN/model --out QA_RUN 2> QA_RUN.stderr
#   go run ./cmd/goformer train --preset debian-qa --out SCRATCH_RUN 2> SCRATCH_RUN.stderr)
set -euo pipefail
mlm=$1 qa=$2 scratch=$3
out=results/debian-qa
mkdir -p "$out"
go build -o /tmp/goformer-results ./cmd/goformer
for pair in "mlm:$mlm" "qa:$qa" "qa-scratch:$scratch"; do
  name=${pair%%:*} dir=${pair#*:}
  cp "$dir/metrics.jsonl" "$out/$name-metrics.jsonl"
  cp "$dir/train_config.json" "$out/$name-train_config.json"
  cp "$dir/loss.png" "$out/$name-loss.png" 2>/dev/null || true
  if [ -f "$dir.stderr" ]; then tr '\r' '\n' < "$dir.stderr" | grep -v '^step [0-9]*/' > "$out/$name-log.txt" || true; fi
done
for pair in "qa:$qa" "qa-scratch:$scratch"; do
  name=${pair%%:*} dir=${pair#*:}
  /tmp/goformer-results eval --model "$dir/model" --squad data/debian/test-cloze-squad.json.gz \
    --predictions "$out/$name-test-predictions.json" --json > "$out/eval-$name-test.json"
  cat "$out/eval-$name-test.json"
done
