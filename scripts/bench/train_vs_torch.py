#!/usr/bin/python3
"""Compare goformer's training step with PyTorch's on the same GPT, same run.

Usage: /usr/bin/python3 scripts/bench/train_vs_torch.py [--goformer PATH] [--preset shakespeare-char-small] [--batch B] [--iters N]

The PyTorch side is nanoGPT's model (pre-LN GPT-2 blocks, tanh GELU, tied
output, causal attention written out with masked_fill, as nanoGPT does on
PyTorch without flash attention), AdamW with the preset's settings, gradient
clipping at 1.0, on 2 threads (Debian's python3-torch 1.13). Both time
forward + backward + optimizer over N steps after 2 warm-up steps.
"""
import argparse, json, math, os, subprocess, sys, tempfile, time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    "shakespeare-char-small": dict(n_layer=4, n_head=4, n_embd=128, block=64, batch=12, dropout=0.0),
    "shakespeare-char": dict(n_layer=6, n_head=6, n_embd=384, block=256, batch=64, dropout=0.2),
}


class Block(nn.Module):
    def __init__(self, c, h, block, dropout):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.c_attn, self.c_proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.c_fc, self.mlp_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
        self.h, self.drop = h, nn.Dropout(dropout)
        self.register_buffer("bias", torch.tril(torch.ones(block, block)).view(1, 1, block, block))

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = F.softmax(att.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf")), dim=-1)
        y = (self.drop(att) @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.drop(self.c_proj(y))
        return x + self.drop(self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")))


class GPT(nn.Module):
    def __init__(self, vocab, n_layer, n_head, n_embd, block, dropout):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, n_embd), nn.Embedding(block, n_embd)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, block, dropout) for _ in range(n_layer)])
        self.ln_f, self.drop = nn.LayerNorm(n_embd), nn.Dropout(dropout)
        # nanoGPT's initialisation: N(0, 0.02) weights and embeddings, zero
        # biases, residual projections scaled by 1/sqrt(2·n_layer).
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                torch.nn.init.zeros_(p)
            elif p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02
                torch.nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        x = self.drop(self.wte(idx) + self.wpe(torch.arange(idx.size(1))))
        for blk in self.blocks:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def torch_ms(p, batch, iters, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = GPT(65, p["n_layer"], p["n_head"], p["n_embd"], p["block"], p["dropout"])
    decay = [q for q in m.parameters() if q.dim() >= 2]
    nodecay = [q for q in m.parameters() if q.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))
    x = torch.randint(0, 65, (batch, p["block"]))
    y = torch.randint(0, 65, (batch, p["block"]))

    def step():
        loss = m(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
    for _ in range(2):
        step()
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    return (time.perf_counter() - t0) / iters * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--goformer")
    ap.add_argument("--preset", default="shakespeare-char-small", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    exe = args.goformer
    if not exe:
        exe = os.path.join(tempfile.mkdtemp(), "goformer")
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        subprocess.run(["go", "build", "-o", exe, "./cmd/goformer"], cwd=root, check=True)
    p = PRESETS[args.preset]
    batch = args.batch or p["batch"]
    cmd = [exe, "bench", "train", "--preset", args.preset, "--batch", str(batch), "--iters", str(args.iters),
           "--threads", str(args.threads), "--json"]
    g = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    t = torch_ms(p, batch, args.iters, args.threads)
    tokens = batch * p["block"]
    print(f"{args.preset}, batch {batch} × {p['block']}, {args.threads} threads, {args.iters} steps")
    print(f"goformer: {g['ms_per_step']:.1f} ms/step, {g['tokens_per_s']:.0f} tokens/s, {g['gflops']:.1f} GFLOPS, {g['allocs_per_step']:.0f} allocations/step")
    print(f"PyTorch:  {t:.1f} ms/step, {tokens / t * 1e3:.0f} tokens/s")
    print(f"ratio (goformer tokens/s ÷ PyTorch): {t / g['ms_per_step']:.2f}")


if __name__ == "__main__":
    main()
