#!/bin/bash
# dec-dot8x4.sh OUT BEFORE AFTER: GPT-2 124M fp32 decode (random weights), batch 1, 6 and 8, prompt 16,
# 64 new tokens, two rounds alternating the binaries
out=$1; shift
for r in 1 2; do
  for b in "$@"; do
    for batch in 1 6 8; do
      echo "{\"bin\":\"$(basename $b)\",\"round\":$r,\"result\":$($b bench decode --config gpt2 --batch $batch --prompt 16 --new 64 --json)}" >> $out
    done
  done
done
