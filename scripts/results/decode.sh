#!/usr/bin/env bash
# Writes results/decode/: the machine's ceilings (bench peak, bench membw) with the GEMM and the
# shakespeare-char and multi30k-de-en training steps beside them (bench gemm, bench train), decoding
# speed of GPT-2 124M and 355M shapes with fp32, bf16 and int8 weights at batch 1 and 32 (bench
# decode), PyTorch beside goformer in the same runs (scripts/bench/decode_vs_torch.py: GPT-2 decoding;
# train_translation_vs_torch.py: the multi30k-de-en training step; opus_vs_torch.py: beam-4
# translation at OPUS-MT-base size), and what the compact weights cost in accuracy: validation
# cross-entropy of a trained Shakespeare model and test_2016_flickr BLEU of a trained Multi30k
# translator, each with fp32, bf16 and int8 weights.
# Usage: scripts/results/decode.sh SHAKESPEARE_MODEL TRANSLATOR_MODEL   (from the repository root)
set -euo pipefail
lm=${1:?a trained Shakespeare model directory} mt=${2:?a trained translation model directory}
out=results/decode
mkdir -p "$out"
go build -o /tmp/goformer-decode ./cmd/goformer
g=/tmp/goformer-decode
run() { echo "\$ goformer $*" >&2; "$g" "$@"; }
{
  run bench peak --json
  run bench peak --threads 1 --json
  run bench membw --json
  run bench membw --threads 1 --json
  run bench gemm -m 1024 -n 1024 -k 1024 --json
  run bench train --preset shakespeare-char --batch 16 --iters 5 --json
  run bench train --preset multi30k-de-en --iters 10 --json
} > "$out/ceilings.jsonl"
: > "$out/decode.jsonl"
for cfg in gpt2 gpt2-medium; do
  for dtype in fp32 bf16 int8; do
    run bench decode --config "$cfg" --batch 1 --prompt 16 --new 64 --dtype "$dtype" --json >> "$out/decode.jsonl"
  done
done
for dtype in fp32 bf16 int8; do
  run bench decode --config gpt2 --batch 32 --prompt 16 --new 32 --dtype "$dtype" --json >> "$out/decode.jsonl"
done
/usr/bin/python3 scripts/bench/decode_vs_torch.py --goformer "$g" --threads 2 --json "$out/decode_vs_torch.json" | tee "$out/decode_vs_torch.txt"
/usr/bin/python3 scripts/bench/train_translation_vs_torch.py --goformer "$g" --preset multi30k-de-en --iters 10 --threads 2 \
  --json "$out/train_translation_vs_torch.json" | tee "$out/train_translation_vs_torch.txt"
/usr/bin/python3 scripts/bench/opus_vs_torch.py --goformer "$g" --sentences 256 --batch 32 --beam 4 --threads 2 \
  --json "$out/opus_vs_torch.json" | tee "$out/opus_vs_torch.txt"
: > "$out/accuracy.jsonl"
for dtype in fp32 bf16 int8; do
  run eval --model "$lm" --dtype "$dtype" --json >> "$out/accuracy.jsonl"
  run eval --model "$mt" --beam 1 --dtype "$dtype" --json >> "$out/accuracy.jsonl"
  run eval --model "$mt" --beam 4 --dtype "$dtype" --json >> "$out/accuracy.jsonl"
done
cat "$out/ceilings.jsonl" "$out/decode.jsonl" "$out/accuracy.jsonl"
