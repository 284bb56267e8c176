#!/usr/bin/env bash
# Writes results/debian-qa/ from finished encoder runs: each run's own files (settings, metrics,
# log without progress lines) as NAME-*, and for each QA run (a NAME starting with "qa") exact match
# and F1 on the test split of the built-in Debian cloze set (1,787 questions) with questions per
# second (eval-NAME-test.json), its predictions, and scripts/results/cloze_neighbours.py's
# breakdown of them (neighbours-NAME-test.json: a no-learning neighbour-matching rule beside it).
# Usage: scripts/results/debian-qa.sh NAME=RUN_DIR ...  (from the repository root), e.g. after
#   go run ./cmd/goformer train --preset debian-qa --out runs/debian-qa 2> runs/debian-qa.stderr
#   scripts/results/debian-qa.sh qa-hour=runs/debian-qa
# (and for the pretraining recipe: mlm=runs/debian-mlm qa-pretrained=runs/debian-qa, with --init runs/debian-mlm/model).
set -euo pipefail
out=results/debian-qa
mkdir -p "$out"
go build -o /tmp/goformer-results ./cmd/goformer
for pair in "$@"; do
  name=${pair%%=*} dir=${pair#*=}
  cp "$dir/metrics.jsonl" "$out/$name-metrics.jsonl"
  cp "$dir/train_config.json" "$out/$name-train_config.json"
  cp "$dir/loss.png" "$out/$name-loss.png" 2>/dev/null || true
  if [ -f "$dir.stderr" ]; then tr '\r' '\n' < "$dir.stderr" | grep -v '^step [0-9]*/' > "$out/$name-log.txt" || true; fi
  case $name in
  qa*)
    /tmp/goformer-results eval --model "$dir/model" --squad data/debian/test-cloze-squad.json.gz \
      --predictions "$out/$name-test-predictions.json" --json > "$out/eval-$name-test.json"
    cat "$out/eval-$name-test.json"
    /usr/bin/python3 scripts/results/cloze_neighbours.py data/debian/test-cloze-squad.json.gz \
      --predictions "$out/$name-test-predictions.json" > "$out/neighbours-$name-test.json"
    cat "$out/neighbours-$name-test.json"
    ;;
  esac
done
