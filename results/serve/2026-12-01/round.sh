#!/bin/bash
# round.sh BIN OUTDIR
bin=$1; out=$2; mkdir -p $out
$bin serve --model shakespeare=/tmp/scs/model --model big=/tmp/sc/model --addr 127.0.0.1:8791 --max-queue 256 > /dev/null 2> $out/server.log &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:8791/readyz > /dev/null && break; sleep 0.2; done
b=($bin bench serve --url http://127.0.0.1:8791 --json)
"${b[@]}" --model shakespeare --max-tokens 32 --concurrency 1,8,64 --requests 192 >> $out/completions.jsonl
"${b[@]}" --model big --max-tokens 32 --concurrency 1,8 --requests 96 >> $out/completions-big.jsonl
kill $pid; wait $pid 2>/dev/null
