#!/usr/bin/python3
"""Translation throughput at OPUS-MT-base size: goformer against PyTorch, same weights, same run.

Usage: /usr/bin/python3 scripts/bench/opus_vs_torch.py [--goformer ./goformer] [--threads 2]
           [--sentences 256] [--batch 32] [--beam 4] [--dir /tmp/opus-mt-base] [--json FILE]

goformer writes an OPUS-MT-base-shaped Marian checkpoint with random weights (6+6 post-LN layers,
d_model 512, 8 heads, ffn 2048, vocabulary 58,101; `goformer bench decode --config opus-mt-base
--write-model DIR`) and the benchmark's inputs: the first --sentences German sentences of Multi30k
test_2016_flickr as token ids, and for each the number of output tokens its English reference has
(plus EOS). Random weights would not stop at a sensible length, so every sentence is made to
produce exactly that many tokens: the work is that of translating real sentences.

The PyTorch side (1.13, eager, torch.inference_mode, same threads) reads the same safetensors and
computes transformers' MarianMTModel written out with a KV cache as modeling_marian keeps one:
the encoder once per batch, cross-attention keys and values once per batch, self-attention keys
and values appended each step (torch.cat) and reordered by index_select after each beam step.
Beam search is the same algorithm on both sides: log-softmax over the vocabulary, the beam best
of beam × vocabulary continuations per sentence (only the first beam live at the start),
finished sentences' rows dropped. PyTorch is timed in fp32 and with torch's dynamic int8
quantisation of every Linear (quantize_dynamic, fbgemm); goformer with --dtype fp32, bf16 and
int8. The script prints target tokens/s side by side and checks that goformer's and PyTorch's
fp32 best hypotheses and their scores agree.
"""
import argparse, json, math, os, subprocess, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import st  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


class Attention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h, self.hd = h, d // h
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def heads(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.h, self.hd).transpose(1, 2)

    def forward(self, x, k, v, mask):
        q = self.heads(self.q_proj(x) * self.hd ** -0.5)
        att = q @ k.transpose(-2, -1)
        if mask is not None:
            att = att + mask
        y = att.softmax(-1) @ v
        b, _, t, _ = y.shape
        return self.out_proj(y.transpose(1, 2).reshape(b, t, -1))


class EncoderLayer(nn.Module):
    def __init__(self, d, h, ffn):
        super().__init__()
        self.self_attn = Attention(d, h)
        self.self_attn_layer_norm, self.final_layer_norm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)

    def forward(self, x, mask):
        a = self.self_attn
        x = self.self_attn_layer_norm(x + a(x, a.heads(a.k_proj(x)), a.heads(a.v_proj(x)), mask))
        return self.final_layer_norm(x + self.fc2(F.relu(self.fc1(x))))


class DecoderLayer(nn.Module):
    def __init__(self, d, h, ffn):
        super().__init__()
        self.self_attn, self.encoder_attn = Attention(d, h), Attention(d, h)
        self.self_attn_layer_norm, self.encoder_attn_layer_norm, self.final_layer_norm = (nn.LayerNorm(d) for _ in range(3))
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)

    def forward(self, x, cache, cross, mask):
        a = self.self_attn
        k, v = a.heads(a.k_proj(x)), a.heads(a.v_proj(x))
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        x = self.self_attn_layer_norm(x + a(x, k, v, None))
        x = self.encoder_attn_layer_norm(x + self.encoder_attn(x, cross[0], cross[1], mask))
        return self.final_layer_norm(x + self.fc2(F.relu(self.fc1(x)))), (k, v)


class Marian(nn.Module):
    def __init__(self, cfg, w):
        super().__init__()
        d, V = cfg["d_model"], cfg["vocab_size"]
        self.cfg, self.scale = cfg, math.sqrt(d) if cfg.get("scale_embedding") else 1.0
        self.shared = nn.Embedding(V, d)
        self.pos = nn.Parameter(w["model.encoder.embed_positions.weight"], requires_grad=False)
        self.encoder = nn.ModuleList(EncoderLayer(d, cfg["encoder_attention_heads"], cfg["encoder_ffn_dim"]) for _ in range(cfg["encoder_layers"]))
        self.decoder = nn.ModuleList(DecoderLayer(d, cfg["decoder_attention_heads"], cfg["decoder_ffn_dim"]) for _ in range(cfg["decoder_layers"]))
        self.lm_head = nn.Linear(d, V)  # tied to the embedding; final_logits_bias as its bias
        sd = {"shared.weight": w["model.shared.weight"], "lm_head.weight": w["model.shared.weight"],
              "lm_head.bias": w["final_logits_bias"].reshape(-1), "pos": self.pos}
        for k, t in w.items():
            if k.startswith("model.encoder.layers.") or k.startswith("model.decoder.layers."):
                sd[k[len("model."):].replace(".layers.", ".", 1)] = t
        self.load_state_dict(sd, strict=True)

    def encode(self, ids, mask):
        x = self.shared(ids) * self.scale + self.pos[: ids.shape[1]]
        for l in self.encoder:
            x = l(x, mask)
        return x

    def cross(self, mem):
        return [(l.encoder_attn.heads(l.encoder_attn.k_proj(mem)), l.encoder_attn.heads(l.encoder_attn.v_proj(mem))) for l in self.decoder]

    def step(self, tokens, pos, caches, cross, mask):
        x = self.shared(tokens[:, None]) * self.scale + self.pos[pos]
        new = []
        for l, c, kv in zip(self.decoder, caches, cross):
            x, c = l(x, c, kv, mask)
            new.append(c)
        return self.lm_head(x[:, -1]), new


def translate(model, src, steps, batch, k, pad, start, hyps=None):
    """Beam search as internal/bench/translate.go does it; returns seconds."""
    t0 = time.perf_counter()
    for lo in range(0, len(src), batch):
        ss, st_ = src[lo:lo + batch], steps[lo:lo + batch]
        n, S = len(ss), max(len(s) for s in ss)
        ids = torch.full((n, S), pad, dtype=torch.long)
        for i, s in enumerate(ss):
            ids[i, : len(s)] = torch.tensor(s)
        mask = torch.zeros(n, 1, 1, S)
        mask.masked_fill_((ids == pad)[:, None, None, :], torch.finfo(torch.float32).min)
        mem = model.encode(ids, mask)
        rep = torch.arange(n).repeat_interleave(k)
        cross = [(a[rep], b[rep]) for a, b in model.cross(mem)]
        mask = mask[rep]
        caches = [None] * len(model.decoder)
        scores = torch.full((n, k), float("-inf"), dtype=torch.float64)
        scores[:, 0] = 0
        tokens = torch.full((n * k,), start, dtype=torch.long)
        hist = torch.zeros(n * k, 0, dtype=torch.long)
        sent = list(range(n))  # the batch index of each running sentence
        for step in range(max(st_)):
            logits, caches = model.step(tokens, step, caches, cross, mask)
            V = logits.shape[-1]
            logp = F.log_softmax(logits, dim=-1).double()
            cand = (scores.reshape(-1, 1) + logp).reshape(len(sent), k * V)
            top, idx = cand.topk(k, dim=1)
            parents = (torch.arange(len(sent))[:, None] * k + idx // V).reshape(-1)
            tokens = (idx % V).reshape(-1)
            hist = torch.cat([hist[parents], tokens[:, None]], dim=1)
            scores = top
            caches = [(a.index_select(0, parents), b.index_select(0, parents)) for a, b in caches]
            alive = [i for i, s in enumerate(sent) if step + 1 < st_[s]]
            if hyps is not None:
                for i, s in enumerate(sent):
                    if step + 1 >= st_[s]:
                        hyps[lo + s] = (hist[i * k].tolist(), scores[i, 0].item())
            if len(alive) < len(sent):
                if not alive:
                    break
                rows = torch.tensor([i * k + j for i in alive for j in range(k)])
                caches = [(a[rows], b[rows]) for a, b in caches]
                cross = [(a[rows], b[rows]) for a, b in cross]
                mask, tokens, hist = mask[rows], tokens[rows], hist[rows]
                scores = scores[torch.tensor(alive)]
                sent = [sent[i] for i in alive]
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--goformer", default=os.path.join(ROOT, "goformer"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sentences", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--dir", default="/tmp/opus-mt-base")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g = a.goformer
    subprocess.run([g, "bench", "decode", "--config", "opus-mt-base", "--write-model", a.dir, "--sentences", str(a.sentences)], check=True)
    cfg = json.load(open(os.path.join(a.dir, "config.json")))
    inputs = json.load(open(os.path.join(a.dir, "inputs.json")))
    src, steps = inputs["source"], inputs["steps"]
    total = sum(steps)
    w = st.load(os.path.join(a.dir, "model.safetensors"))
    model = Marian(cfg, w).eval()
    pad, start = cfg["pad_token_id"], cfg["decoder_start_token_id"]
    print(f"{len(src)} sentences, {total} target tokens, batch {a.batch}, beam {a.beam}, {a.threads} threads; inputs: {inputs['note']}", flush=True)

    rows = []

    def goformer(dtype):
        hyps = os.path.join(a.dir, f"hyps-{dtype}.jsonl")
        out = subprocess.run([g, "bench", "decode", "--config", "opus-mt-base", "--model", a.dir, "--inputs", os.path.join(a.dir, "inputs.json"),
                              "--sentences", str(a.sentences), "--batch", str(a.batch), "--beam", str(a.beam), "--dtype", dtype,
                              "--threads", str(a.threads), "--hyps", hyps, "--json"], check=True, capture_output=True, text=True).stdout
        r = json.loads(out)
        rows.append({"impl": "goformer", "dtype": dtype, "tokens_per_s": r["tokens_per_s"], "seconds": r["seconds"], "gflops": r["gflops"]})
        print(f"goformer {dtype}: {r['tokens_per_s']:.1f} target tokens/s ({r['seconds']:.1f} s, {r['gflops']:.1f} GFLOPS)", flush=True)
        return [json.loads(l) for l in open(hyps)]

    def pytorch(m, name):
        hyps = [None] * len(src)
        with torch.inference_mode():
            translate(m, src[: a.batch], steps[: a.batch], a.batch, a.beam, pad, start)  # warm-up
            secs = translate(m, src, steps, a.batch, a.beam, pad, start, hyps)
        rows.append({"impl": "pytorch", "dtype": name, "tokens_per_s": total / secs, "seconds": secs})
        print(f"PyTorch {torch.__version__} {name}: {total / secs:.1f} target tokens/s ({secs:.1f} s)", flush=True)
        return hyps

    g32 = goformer("fp32")
    t32 = pytorch(model, "fp32")
    same = sum(1 for x, y in zip(g32, t32) if x["tokens"] == y[0])
    dscore = max(abs(x["score"] - y[1]) for x, y in zip(g32, t32))
    print(f"fp32 best hypotheses identical: {same}/{len(src)}; largest score difference {dscore:.2e}", flush=True)
    goformer("bf16")
    goformer("int8")
    q = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    pytorch(q, "int8 (quantize_dynamic)")
    base = next(r["tokens_per_s"] for r in rows if r["impl"] == "pytorch" and r["dtype"] == "fp32")
    print("\n| implementation | weights | target tokens/s | per thread | × PyTorch fp32 |\n| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['impl']} | {r['dtype']} | {r['tokens_per_s']:.1f} | {r['tokens_per_s'] / a.threads:.1f} | {r['tokens_per_s'] / base:.2f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"sentences": len(src), "target_tokens": total, "batch": a.batch, "beam": a.beam, "threads": a.threads,
                       "torch": torch.__version__, "inputs": inputs["note"], "fp32_identical": same, "fp32_max_score_diff": dscore,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
