#!/bin/bash
# round-s20.sh SERVER CLIENT OUTDIR: one round of session 20's set: the two GPTs and the translator,
# the server binary SERVER loaded by the load generator of binary CLIENT (one line per concurrency).
srv=$1; cl=$2; out=$3; mkdir -p $out
$srv serve --model shakespeare=/tmp/scs/model --model big=/tmp/sc/model --model de-en=runs/m30/model \
  --addr 127.0.0.1:8791 --max-queue 256 > /dev/null 2> /dev/null &
pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:8791/readyz > /dev/null && break; sleep 0.2; done
b=($cl bench serve --url http://127.0.0.1:8791 --json)
"${b[@]}" --model shakespeare --max-tokens 32 --concurrency 1,8,64 --requests 384 >> $out/completions.jsonl
"${b[@]}" --model big --max-tokens 32 --concurrency 1,8 --requests 192 >> $out/completions-big.jsonl
"${b[@]}" --model de-en --endpoint translate --concurrency 1,8,64 --requests 192 >> $out/translate.jsonl
kill $pid; wait $pid 2>/dev/null
