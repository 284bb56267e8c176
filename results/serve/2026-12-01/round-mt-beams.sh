#!/bin/bash
# round-mt-beams.sh SERVER_BIN CLIENT_BIN MODEL FILE: the translator's load with 4 beams a request
srv=$1; cli=$2; model=$3; out=$4
if curl -sf http://127.0.0.1:8796/readyz > /dev/null; then echo "port busy" >&2; exit 1; fi
$srv serve --model de-en=$model --addr 127.0.0.1:8796 --max-queue 256 > /dev/null 2> /dev/null &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:8796/readyz > /dev/null && break; sleep 0.2; done
$cli bench serve --url http://127.0.0.1:8796 --model de-en --endpoint translate --beams 4 --concurrency 1,8 --requests 192 --json >> $out
kill $pid; wait $pid 2>/dev/null
