#!/bin/bash
# g124.sh BIN OUT: the GPT-2-shaped model (12 × 768, 1,024 positions), c = 1 and 8, 32 tokens
bin=$1; out=$2
ss -ltn | grep -q 8793 && { echo port busy; exit 1; }
$bin serve --model g=/tmp/g124/model --addr 127.0.0.1:8793 --max-queue 256 > /dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:8793/readyz > /dev/null && break; sleep 0.2; done
$bin bench serve --url http://127.0.0.1:8793 --json --model g --max-tokens 32 --concurrency 1 --requests 24 >> $out
$bin bench serve --url http://127.0.0.1:8793 --json --model g --max-tokens 32 --concurrency 8 --requests 64 >> $out
kill $pid; wait $pid 2>/dev/null
