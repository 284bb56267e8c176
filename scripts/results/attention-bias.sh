#!/usr/bin/env bash
# Writes results/attention-bias/: the cost of T5's relative position bias in the flash attention
# kernel. For T = 1024 and 4096, forward and forward+backward, causal (T5's decoder) and not (its
# encoder), the same call without and with the bias (B=1, H=8, d=64, all threads), as JSON lines.
# Usage: scripts/results/attention-bias.sh  (from the repository root)
set -euo pipefail
out=results/attention-bias
mkdir -p "$out"
go build -o /tmp/goformer-results ./cmd/goformer
: > "$out/bench.jsonl"
for t in 1024 4096; do
  for pass in "" "--backward"; do
    for causal in "" "--causal"; do
      for bias in "" "--bias"; do
        # shellcheck disable=SC2086
        /tmp/goformer-results bench attention --seq "$t" $pass $causal $bias --seconds 1 --json | tee -a "$out/bench.jsonl"
      done
    done
  done
done
echo "go run ./cmd/goformer bench attention --seq {1024,4096} [--backward] [--causal] [--bias] --seconds 1 --json" > "$out/command.txt"
