#!/bin/bash
# gemm-dot8x4.sh BEFORE AFTER: x·Wᵀ products of few rows (a decoding step's
# projections: W 1536×384, and 384×1536), two rounds alternating the binaries.
for round in 1 2; do
  for bin in "$@"; do
    for m in 1 3 4 5 7 8 9 15 16 32 64; do
      echo "$(basename $bin) $($bin bench gemm -m $m -n 1536 -k 384 -tb | tail -1)"
      echo "$(basename $bin) $($bin bench gemm -m $m -n 384 -k 1536 -tb | tail -1)"
    done
  done
done
