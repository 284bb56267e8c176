#!/bin/bash
# stag.sh BIN MODELDIR: 8 clients, 10 requests each, max_tokens varying 16..64 (staggered joins); prints tokens/s
bin=$1; dir=$2
$bin serve --model g=$dir --addr 127.0.0.1:8795 > /dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:8795/readyz > /dev/null && break; sleep 0.2; done
prompts=("ROMEO:" "JULIET:\nO Romeo," "First Citizen:\nBefore we proceed" "KING HENRY:" "To be, or not" "MENENIUS:\nWhat is")
t0=$(date +%s.%N)
cl=()
for c in $(seq 8); do
  ( RANDOM=$c; for i in $(seq 10); do mt=$((16 + RANDOM % 49)); p=${prompts[$((RANDOM % 6))]}
    curl -s http://127.0.0.1:8795/v1/completions -d "{\"model\":\"g\",\"prompt\":\"$p\",\"max_tokens\":$mt,\"temperature\":0.8}" | grep -o "\"completion_tokens\":[0-9]*" | cut -d: -f2; done ) > stag-$c.out &
  cl+=($!)
done
wait "${cl[@]}"
t1=$(date +%s.%N)
kill $pid; wait $pid 2>/dev/null
tok=$(cat stag-*.out | paste -sd+ | bc)
echo "$(basename $bin) tokens $tok seconds $(echo "$t1 - $t0" | bc) tokens/s $(echo "$tok / ($t1 - $t0)" | bc)"
