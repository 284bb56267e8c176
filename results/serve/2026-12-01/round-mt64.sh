#!/bin/bash
bin=$1; out=$2
if curl -sf http://127.0.0.1:8792/readyz > /dev/null; then echo "port busy" >&2; exit 1; fi
$bin serve --model de-en=/work/main/runs/m30/model --addr 127.0.0.1:8792 --max-queue 256 > /dev/null 2> /dev/null &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:8792/readyz > /dev/null && break; sleep 0.2; done
$bin bench serve --url http://127.0.0.1:8792 --model de-en --endpoint translate --concurrency 64 --requests 960 --json >> $out
kill $pid; wait $pid 2>/dev/null
