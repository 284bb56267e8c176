#!/bin/bash
# pre.sh OUT: GPT-2 124M fp32 prefill + decode, gfB (whole prefill) and gfC (chunked), alternating, two rounds, peak RSS
out=$1
for r in 1 2; do
  for b in gfB gfC; do
    for bp in "1 512" "8 512" "8 16"; do
      set -- $bp
      res=$(/usr/bin/time -f "%M" -o /tmp/rss.txt /tmp/$b bench decode --config gpt2 --batch $1 --prompt $2 --new 64 --json)
      echo "{\"bin\":\"$b\",\"round\":$r,\"peak_rss_kb\":$(cat /tmp/rss.txt),\"result\":$res}" >> $out
    done
  done
done
