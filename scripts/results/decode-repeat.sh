#!/usr/bin/env bash
# Writes results/decode/decode-repeat.jsonl: GPT-2 124M and 355M shapes, batch 1, fp32 / bf16 / int8
# measured ROUNDS times (default 3) in turn, so that the ratios compare runs minutes apart at most on a
# host whose bandwidth moves by 10–20% over minutes. Each line is `bench decode --json` output.
# Usage: scripts/results/decode-repeat.sh   (from the repository root)
set -euo pipefail
rounds=${ROUNDS:-3}
out=results/decode/decode-repeat.jsonl
go build -o /tmp/goformer-decode ./cmd/goformer
: > "$out"
for cfg in gpt2 gpt2-medium; do
  for r in $(seq "$rounds"); do
    for dtype in fp32 bf16 int8; do
      /tmp/goformer-decode bench decode --config "$cfg" --batch 1 --prompt 16 --new 64 --dtype "$dtype" --json | tee -a "$out"
    done
  done
done
