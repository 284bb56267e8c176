#!/bin/bash
# soak-translator.sh BIN MODEL OUTDIR [SECONDS]: translate at concurrency 8 (rows joining the stream)
# for SECONDS (default 600), the server's resident memory sampled every 10 s.
bin=$1; model=$2; out=$3; soak=${4:-600}
mkdir -p $out
$bin serve --model de-en=$model --addr 127.0.0.1:8795 --max-queue 256 > /dev/null 2> /tmp/soak-server.log &
pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:8795/readyz > /dev/null && break; sleep 0.2; done
$bin bench serve --url http://127.0.0.1:8795 --model de-en --endpoint translate --concurrency 8 --requests 1000000 --json > $out/soak-translator-load.json 2>&1 &
load=$!
: > $out/soak-translator-rss.jsonl
start=$(date +%s)
while [ $(( $(date +%s) - start )) -lt "$soak" ]; do
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  echo "{\"seconds\": $(( $(date +%s) - start )), \"rss_kib\": $rss}" >> $out/soak-translator-rss.jsonl
  sleep 10
done
kill $load 2>/dev/null
peak=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
echo "{\"peak_rss_kib\": $peak}" > $out/soak-translator-peak.json
kill -TERM $pid; wait $pid
{ echo "requests logged, by endpoint and status:"; grep -o 'endpoint=[a-z]* status=[0-9]*' /tmp/soak-server.log | sort | uniq -c; grep -v 'msg=request ' /tmp/soak-server.log; } > $out/soak-translator-log-summary.txt
