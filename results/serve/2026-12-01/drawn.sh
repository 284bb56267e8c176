#!/bin/bash
# drawn.sh BIN OUT: the 10.8M GPT, c = 1 and 8, 96 requests, fixed 32 tokens and drawn from 16..48 (mean 32)
bin=$1; out=$2
ss -ltn | grep -q 8797 && { echo port busy; exit 1; }
$bin serve --model big=/tmp/sc/model --addr 127.0.0.1:8797 --max-queue 256 > /dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:8797/readyz > /dev/null && break; sleep 0.2; done
b=($bin bench serve --url http://127.0.0.1:8797 --json --model big --concurrency 1,8 --requests 96)
"${b[@]}" --max-tokens 32 | sed 's/^{/{"load":"fixed 32",/' >> $out
"${b[@]}" --min-tokens 16 --max-tokens 48 | sed 's/^{/{"load":"drawn 16-48",/' >> $out
kill $pid; wait $pid 2>/dev/null
