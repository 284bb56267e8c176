#!/bin/bash
# spinab.sh OUTDIR ROUNDS VARIANT...: each VARIANT is NAME=BINARY[:serve flags], alternated in every round.
out=$1; rounds=$2; shift 2; mkdir -p $out
for r in $(seq $rounds); do
  for v in "$@"; do
    name=${v%%=*}; rest=${v#*=}; bin=${rest%%:*}; flags=""; [[ $rest == *:* ]] && flags=${rest#*:}
    $bin serve --model shakespeare=/tmp/scs/model --model big=/tmp/sc/model --model de-en=runs/m30/model \
      --addr 127.0.0.1:8794 --max-queue 256 $flags > /dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -sf http://127.0.0.1:8794/readyz > /dev/null && break; sleep 0.2; done
    b=(/tmp/gf bench serve --url http://127.0.0.1:8794 --json)
    "${b[@]}" --model shakespeare --max-tokens 32 --concurrency 1,8 --requests 384 | sed "s/^{/{\"variant\":\"$name\",\"round\":$r,\"model\":\"small\",/" >> $out/all.jsonl
    "${b[@]}" --model big --max-tokens 32 --concurrency 1,8 --requests 192 | sed "s/^{/{\"variant\":\"$name\",\"round\":$r,\"model\":\"big\",/" >> $out/all.jsonl
    "${b[@]}" --model de-en --endpoint translate --concurrency 1,8 --requests 192 | sed "s/^{/{\"variant\":\"$name\",\"round\":$r,\"model\":\"de-en\",/" >> $out/all.jsonl
    kill $pid; wait $pid 2>/dev/null
  done
done
python3 - $out/all.jsonl <<'PY'
import json,sys,statistics as st
rows=[json.loads(l) for l in open(sys.argv[1])]
res={}
for r in rows: res.setdefault((r['model'],r['concurrency'],r['variant']),[]).append(r['tokens_per_s'])
for k in sorted(res): print(k, round(st.median(res[k])), [round(x) for x in res[k]])
PY
