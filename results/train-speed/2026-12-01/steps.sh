#!/usr/bin/env bash
# Training step time before and after this session's changes, alternating
# the two builds (the host is noisy), two rounds:
#   summariser: `goformer train --preset debian-summarize` for 130 steps
#     (no evaluation until the last step), seconds a step over steps 30..130
#     from metrics.jsonl (the first steps grow the arena);
#   `goformer bench train --preset multi30k-de-en --iters 10 --json` and
#   `goformer bench train --preset shakespeare-char-small --json`.
# Usage (repository root): results/train-speed/2026-12-01/steps.sh OLD_BIN NEW_BIN > OUT.jsonl
set -euo pipefail
old=$1 new=$2
cfg=$(mktemp)
echo '{"eval_interval":10000,"max_steps":130,"warmup_steps":20,"snapshot_minutes":[],"val_documents":20}' > "$cfg"
for round in 1 2; do
  for bin in "$old" "$new"; do
    name=$(basename "$bin")
    out=$(mktemp -d)
    "$bin" train --preset debian-summarize --config "$cfg" --out "$out" 2>/dev/null >/dev/null
    /usr/bin/python3 - "$out/metrics.jsonl" "$name" "$round" <<'PY'
import json, sys
m = {x["step"]: x for x in map(json.loads, open(sys.argv[1]))}
print(json.dumps({"bin": sys.argv[2], "round": int(sys.argv[3]), "bench": "debian-summarize train, steps 30-130",
                  "s_per_step": (m[130]["elapsed_s"] - m[30]["elapsed_s"]) / 100, "loss_130": m[130]["loss"]}))
PY
    rm -rf "$out"
    for preset in multi30k-de-en shakespeare-char-small; do
      iters=()
      [ "$preset" = multi30k-de-en ] && iters=(--iters 10)
      r=$("$bin" bench train --preset "$preset" "${iters[@]}" --json)
      echo "{\"bin\":\"$name\",\"round\":$round,\"bench\":\"bench train $preset\",\"result\":$r}"
    done
  done
done
rm -f "$cfg"
