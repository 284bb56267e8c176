#!/usr/bin/env bash
# Writes results/peak-memory/peak-<label>.jsonl: the peak resident memory (/usr/bin/time -v, maximum
# resident set size) of short runs of the training presets, each a few steps with one evaluation,
# and of the nanoGPT preset at its full batch.
# Usage: scripts/results/peak-memory.sh LABEL [GOFORMER_BINARY]   (from the repository root; without a
#   binary, the working tree is built; ONLY="name ..." measures only those runs)
set -euo pipefail
label=${1:?a label for the file, e.g. the date or "before"}
g=${2:-}
if [ -z "$g" ]; then
  g=/tmp/goformer-peak
  go build -o "$g" ./cmd/goformer
fi
out=results/peak-memory/peak-$label.jsonl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo '{"eval_interval": 100, "warmup_steps": 5, "max_steps": 12, "max_minutes": 0}' > "$tmp/mt.json"
echo '{"eval_interval": 6, "max_minutes": 0, "warmup_steps": 4}' > "$tmp/mlm.json"
: > "$out"
measure() { # name, then the goformer arguments
  local name=$1; shift
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  local dir="$tmp/run-$name"
  /usr/bin/time -v "$g" "$@" --out "$dir" > "$tmp/stdout" 2> "$tmp/stderr" || { cat "$tmp/stderr" >&2; exit 1; }
  local kib; kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/stderr")
  local last; last=$(tail -n 1 "$dir/metrics.jsonl" 2>/dev/null || echo '{}')
  printf '{"run": "%s", "command": "goformer %s", "peak_rss_kib": %s, "last_metrics": %s}\n' "$name" "$*" "$kib" "$last" | tee -a "$out"
}
measure shakespeare-char-small train --preset shakespeare-char-small --steps 200
measure shakespeare-char train --preset shakespeare-char --steps 3
measure shakespeare-char-batch16 train --preset shakespeare-char --batch 16 --steps 3
measure multi30k-de-en train --preset multi30k-de-en --steps 12 --config "$tmp/mt.json"
measure multi30k-de-en-t5 train --preset multi30k-de-en-t5 --steps 12 --config "$tmp/mt.json"
measure debian-mlm train --preset debian-mlm --steps 12 --config "$tmp/mlm.json"
measure debian-qa train --preset debian-qa --steps 12 --config "$tmp/mlm.json"
measure debian-embed train --preset debian-embed --steps 12 --config "$tmp/mlm.json"
echo '{"eval_interval": 6, "max_minutes": 0, "warmup_steps": 4, "snapshot_minutes": []}' > "$tmp/sum.json"
measure debian-summarize train --preset debian-summarize --steps 12 --config "$tmp/sum.json"
