#!/bin/bash
# cpuacct.sh BIN OUT: server and load-generator CPU per generated token at c = 1 and 8.
bin=$1; out=$2; : > $out
$bin serve --model shakespeare=/tmp/scs/model --model big=/tmp/sc/model --model de-en=runs/m30/model \
  --addr 127.0.0.1:8792 --max-queue 256 > /dev/null 2> /dev/null &
pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:8792/readyz > /dev/null && break; sleep 0.2; done
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
for spec in "shakespeare 1 384" "shakespeare 8 384" "big 1 96" "big 8 192" "de-en 1 192" "de-en 8 192"; do
  set -- $spec
  ep=""; mt="--max-tokens 32"; [ $1 = de-en ] && { ep="--endpoint translate"; mt=""; }
  s0=$(cpu); t0=$(date +%s.%N)
  /usr/bin/time -f "client %U %S" -o /tmp/cl.time $bin bench serve --url http://127.0.0.1:8792 --json --model $1 $ep $mt --concurrency $2 --requests $3 > /tmp/cl.json
  t1=$(date +%s.%N); s1=$(cpu)
  python3 - "$1" "$2" "$s0" "$s1" "$t0" "$t1" "$tck" >> $out <<'PY'
import json,sys
m,c,s0,s1,t0,t1,tck=sys.argv[1:]
d=json.load(open('/tmp/cl.json')) if open('/tmp/cl.json').read().strip().startswith('{') else json.loads(open('/tmp/cl.json').read().splitlines()[-1])
u,s=open('/tmp/cl.time').read().split()[1:3]
wall=float(t1)-float(t0); srv=(float(s1)-float(s0))/float(tck); cl=float(u)+float(s)
tok=d.get('tokens') or d.get('tokens_generated') or 0
print(json.dumps({"model":m,"concurrency":int(c),"wall_s":round(wall,3),"server_cpu_s":round(srv,3),"client_cpu_s":round(cl,3),
  "tokens":tok,"tokens_per_s":d.get('tokens_per_s'),"server_cpu_us_per_token":round(srv/tok*1e6,1) if tok else None,
  "client_cpu_us_per_token":round(cl/tok*1e6,1) if tok else None,"cores_busy":round((srv+cl)/wall,2)}))
PY
done
kill $pid; wait $pid 2>/dev/null
