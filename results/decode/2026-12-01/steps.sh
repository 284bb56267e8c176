#!/bin/bash
# steps.sh OUT: three alternating rounds of gpt_step, before (gs-old) and after (gs-new) the dots/axpys kernels
out=$1
for r in 1 2 3; do
  for b in gs-old gs-new; do
    for p in 8 200; do
      echo "$b round $r: $(/tmp/$b -repeats 20 -prompt $p /tmp/sc/model | tr '\n' ' ')" >> $out
    done
  done
done
