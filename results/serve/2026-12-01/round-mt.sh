#!/bin/bash
# round-mt.sh BIN MODEL OUTFILE: one round of the translator's load, appended to OUTFILE
bin=$1; model=$2; out=$3
$bin serve --model de-en=$model --addr 127.0.0.1:8792 --max-queue 256 > /dev/null 2> /dev/null &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:8792/readyz > /dev/null && break; sleep 0.2; done
$bin bench serve --url http://127.0.0.1:8792 --model de-en --endpoint translate --concurrency 1,8,64 --requests 192 --json >> $out
kill $pid; wait $pid 2>/dev/null
