#!/bin/bash
# soak-g124.sh BIN OUTDIR SECONDS: the GPT-2-shaped model under c = 8 with lengths drawn from 16..64 for SECONDS,
# the server's resident memory sampled every 10 s
bin=$1; out=$2; secs=$3; mkdir -p $out
ss -ltn | grep -q 8798 && { echo port busy; exit 1; }
$bin serve --model g=/tmp/g124/model --addr 127.0.0.1:8798 --max-queue 256 > /dev/null 2> $out/server.log &
pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:8798/readyz > /dev/null && break; sleep 0.2; done
$bin bench serve --url http://127.0.0.1:8798 --json --model g --concurrency 8 --requests 100000 --min-tokens 16 --max-tokens 64 > $out/load.json &
load=$!
t0=$(date +%s)
while [ $(( $(date +%s) - t0 )) -lt $secs ]; do
  echo "{\"t\": $(( $(date +%s) - t0 )), \"rss_kb\": $(awk '/VmRSS/ {print $2}' /proc/$pid/status)}" >> $out/rss.jsonl
  sleep 10
done
kill $load 2>/dev/null; wait $load 2>/dev/null
awk '/VmHWM/ {print "{\"peak_rss_kb\": " $2 "}"}' /proc/$pid/status > $out/peak.json
kill $pid; wait $pid 2>/dev/null
grep -c 'status=200' $out/server.log
