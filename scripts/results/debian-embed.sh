#!/usr/bin/env bash
# Writes results/debian-embed/ from finished debian-embed runs: each run's own files (settings,
# metrics, the log without the progress lines), then Recall@1, Recall@10 and MRR@10 on the test
# split of the built-in Debian descriptions (2,045 synopses as queries against the 2,045
# descriptions) for the run's best model, with BM25 over the same texts beside it, as JSON.
# Usage: scripts/results/debian-embed.sh NAME:RUN [NAME:RUN ...]  (from the repository root, after
#   go run ./cmd/goformer train --preset debian-embed --out RUN 2> RUN.stderr
# or, from the pretraining, after debian-mlm: ... --init runs/debian-mlm/model ...)
set -euo pipefail
out=results/debian-embed
mkdir -p "$out"
go build -o /tmp/goformer-results ./cmd/goformer
for pair in "$@"; do
  name=${pair%%:*} dir=${pair#*:}
  cp "$dir/metrics.jsonl" "$out/$name-metrics.jsonl"
  cp "$dir/train_config.json" "$out/$name-train_config.json"
  cp "$dir/loss.png" "$out/$name-loss.png" 2>/dev/null || true
  if [ -f "$dir.stderr" ]; then tr '\r' '\n' < "$dir.stderr" | grep -v '^step [0-9]*/' > "$out/$name-log.txt" || true; fi
  if [ -d "$dir/model" ]; then
    /tmp/goformer-results eval --model "$dir/model" --retrieval debian:test --json > "$out/eval-$name-test.json"
    cat "$out/eval-$name-test.json"
  fi
done
