#!/bin/bash
# round124.sh BIN OUTFILE
bin=$1
$bin serve --model g124=/tmp/g124/model --addr 127.0.0.1:8792 --max-queue 256 > /dev/null 2> /dev/null &
pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:8792/readyz > /dev/null && break; sleep 0.2; done
$bin bench serve --url http://127.0.0.1:8792 --json --model g124 --max-tokens 32 --concurrency 1,8 --requests 48 >> $2
kill $pid; wait $pid 2>/dev/null
