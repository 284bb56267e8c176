#!/usr/bin/env bash
# Writes results/serve/: goformer serve under load, measured with goformer bench serve on loopback.
# The Shakespeare GPT (completions, streamed, 32 tokens, temperature 0.8) and the Multi30k
# translator (one sentence per request) at concurrency 1, 8 and 64; then a soak: concurrency 8 on
# completions for SOAK_SECONDS (default 600), the server's resident memory sampled every 10 s.
# Usage: scripts/results/serve.sh GPT_DIR TRANSLATOR_DIR  (from the repository root; the presets'
#   models: runs/shakespeare-char-small/model and runs/multi30k-de-en/model; OUT=DIR writes elsewhere,
#   SOAK_SECONDS=0 skips the soak; BIG_GPT=DIR also loads that model (the shakespeare-char preset's
#   6-layer, 384-wide GPT: `goformer train --preset shakespeare-char --batch 16 --steps 1 --out D`
#   makes one) and measures completions on it at concurrency 1 and 8 into completions-big.jsonl;
#   TRANSLATOR_DIR "-" leaves the translator out)
set -euo pipefail
gpt=$1 mt=$2
soak=${SOAK_SECONDS:-600}
out=${OUT:-results/serve}
mkdir -p "$out"
go build -o /tmp/goformer-results ./cmd/goformer
big=()
if [ -n "${BIG_GPT:-}" ]; then big=(--model big="$BIG_GPT"); fi
if [ "$mt" != - ]; then big+=(--model de-en="$mt"); fi
/tmp/goformer-results serve --model shakespeare="$gpt" "${big[@]}" --addr 127.0.0.1:8791 --max-queue 256 > /tmp/serve-results.out 2> /tmp/serve-results.log &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:8791/readyz > /dev/null && break; sleep 0.2; done
b=(/tmp/goformer-results bench serve --url http://127.0.0.1:8791 --json)
"${b[@]}" --model shakespeare --max-tokens 32 --concurrency 1,8,64 --requests 192 | tee "$out/completions.jsonl"
if [ "$mt" != - ]; then
  "${b[@]}" --model de-en --endpoint translate --concurrency 1,8,64 --requests 192 | tee "$out/translate.jsonl"
fi
if [ -n "${BIG_GPT:-}" ]; then
  "${b[@]}" --model big --max-tokens 32 --concurrency 1,8 --requests 96 | tee "$out/completions-big.jsonl"
fi
: > "$out/soak-rss.jsonl"
"${b[@]}" --model shakespeare --max-tokens 32 --concurrency 8 --requests 1000000 > /dev/null 2>&1 &
load=$!
start=$(date +%s)
while [ $(( $(date +%s) - start )) -lt "$soak" ]; do
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  echo "{\"seconds\": $(( $(date +%s) - start )), \"rss_kib\": $rss}" | tee -a "$out/soak-rss.jsonl"
  sleep 10
done
kill $load 2>/dev/null || true
peak=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
echo "{\"peak_rss_kib\": $peak}" | tee "$out/peak.json"
kill -TERM $pid
wait $pid || true
{ echo "requests logged, by endpoint and status:"
  grep -o 'endpoint=[a-z]* status=[0-9]*' /tmp/serve-results.log | sort | uniq -c
  grep -v 'msg=request ' /tmp/serve-results.log; } > "$out/server-log-summary.txt"
cat > "$out/command.txt" <<CMD
scripts/results/serve.sh $gpt $mt   (SOAK_SECONDS=$soak BIG_GPT=${BIG_GPT:-})
server: goformer serve --model shakespeare=GPT --model de-en=MT --addr 127.0.0.1:8791 --max-queue 256
load:   goformer bench serve --model shakespeare --max-tokens 32 --concurrency 1,8,64 --requests 192 --json
        goformer bench serve --model de-en --endpoint translate --concurrency 1,8,64 --requests 192 --json
soak:   goformer bench serve --model shakespeare --max-tokens 32 --concurrency 8 for SOAK_SECONDS, VmRSS every 10 s
CMD
