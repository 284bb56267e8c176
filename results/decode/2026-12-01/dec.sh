#!/bin/bash
# dec.sh OUT: GPT-2 124M fp32 decode, gfA (before) and gfB (after), alternating, two rounds
out=$1
for r in 1 2; do
  for b in gfA gfB; do
    for bp in "1 16" "8 16" "1 512" "8 512"; do
      set -- $bp
      echo "{\"bin\":\"$b\",\"round\":$r,\"result\":$(/tmp/$b bench decode --config gpt2 --batch $1 --prompt $2 --new 64 --json)}" >> $out
    done
  done
done
