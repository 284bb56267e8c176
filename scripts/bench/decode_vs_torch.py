#!/usr/bin/python3
"""Decoding speed at GPT-2 124M: goformer against PyTorch, same shapes, same run.

Usage: /usr/bin/python3 scripts/bench/decode_vs_torch.py [--goformer ./goformer] [--threads 2]
           [--prompt 16] [--new 64] [--json results/decode/decode_vs_torch.json]

PyTorch 1.13 (Debian's python3-torch) runs GPT-2 124M (12 layers, 768 wide, 12 heads, vocabulary
50257, random weights) as transformers' modeling_gpt2 computes it in eager mode — LayerNorm,
a fused QKV projection, matmul + softmax attention against a KV cache to which each step appends
its key and value, the GELU MLP, the output layer tied to the embedding — greedy, batch 1, under
torch.inference_mode on the same number of threads; its time is the best of 3 runs after a
warm-up. goformer runs `goformer bench decode --config gpt2` (fp32, bf16, int8) in the same run,
and the script prints tokens/s side by side.
"""
import argparse, json, os, subprocess, sys, time

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
V, P, D, L, H = 50257, 1024, 768, 12, 12


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = torch.nn.LayerNorm(D), torch.nn.LayerNorm(D)
        self.c_attn, self.c_proj = torch.nn.Linear(D, 3 * D), torch.nn.Linear(D, D)
        self.c_fc, self.mlp_proj = torch.nn.Linear(D, 4 * D), torch.nn.Linear(4 * D, D)

    def forward(self, x, cache):
        b, t, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
        q, k, v = (z.view(b, t, H, D // H).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        att = (q @ k.transpose(-2, -1)) / (D // H) ** 0.5
        if t > 1:  # the prompt: causal
            att = att.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, D)
        x = x + self.c_proj(y)
        x = x + self.mlp_proj(torch.nn.functional.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x, (k, v)


class GPT2(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = torch.nn.Embedding(V, D), torch.nn.Embedding(P, D)
        self.h = torch.nn.ModuleList(Block() for _ in range(L))
        self.ln_f = torch.nn.LayerNorm(D)

    def forward(self, ids, start, caches):
        x = self.wte(ids) + self.wpe(torch.arange(start, start + ids.shape[1]))
        new = []
        for blk, c in zip(self.h, caches):
            x, c = blk(x, c)
            new.append(c)
        return self.ln_f(x[:, -1]) @ self.wte.weight.T, new


def torch_decode(model, prompt, new):
    ids = torch.randint(0, V, (1, prompt))
    start = time.perf_counter()
    logits, caches = model(ids, 0, [None] * L)
    prefill = time.perf_counter() - start
    tok = logits.argmax(-1, keepdim=True)
    start = time.perf_counter()
    for i in range(new):
        logits, caches = model(tok, prompt + i, caches)
        tok = logits.argmax(-1, keepdim=True)
    return new / (time.perf_counter() - start), prompt / prefill


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--goformer", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    exe = a.goformer
    if exe is None:
        exe = "/tmp/goformer-decode-bench"
        subprocess.run(["go", "build", "-o", exe, "./cmd/goformer"], cwd=ROOT, check=True)
    out = {"threads": a.threads, "prompt": a.prompt, "new": a.new, "torch_version": torch.__version__}
    for dtype in ["fp32", "bf16", "int8"]:
        r = subprocess.run([exe, "bench", "decode", "--config", "gpt2", "--batch", "1", "--prompt", str(a.prompt), "--new", str(a.new),
                            "--dtype", dtype, "--threads", str(a.threads), "--json"], check=True, capture_output=True, text=True)
        out["goformer_" + dtype] = json.loads(r.stdout)
    torch.manual_seed(0)
    model = GPT2().eval()
    with torch.inference_mode():
        torch_decode(model, a.prompt, 4)
        runs = [torch_decode(model, a.prompt, a.new) for _ in range(3)]
    out["torch_fp32_tokens_per_s"] = max(r[0] for r in runs)
    out["torch_fp32_prefill_tokens_per_s"] = max(r[1] for r in runs)
    t = out["torch_fp32_tokens_per_s"]
    for dtype in ["fp32", "bf16", "int8"]:
        g = out["goformer_" + dtype]
        print(f"goformer {dtype}: {g['tokens_per_s']:.1f} tokens/s ({g['tokens_per_s'] / t:.2f}× PyTorch fp32), "
              f"{g['bytes_per_token'] / 1e6:.0f} MB/token, {100 * g.get('fraction_of_bandwidth', 0):.0f}% of the bandwidth limit")
    print(f"PyTorch {torch.__version__} fp32: {t:.1f} tokens/s (prefill {out['torch_fp32_prefill_tokens_per_s']:.0f} tokens/s), {a.threads} threads")
    if a.json:
        os.makedirs(os.path.dirname(a.json), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
