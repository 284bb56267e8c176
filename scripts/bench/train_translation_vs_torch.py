#!/usr/bin/python3
"""A translation preset's training step: goformer against PyTorch's nn.Transformer, same batches, same run.

Usage: /usr/bin/python3 scripts/bench/train_translation_vs_torch.py [--goformer PATH]
           [--preset multi30k-de-en] [--iters 10] [--threads 2] [--json FILE]

goformer runs `goformer bench train --preset P --iters N --write-batches FILE --json`: 2 warm-up
steps and N timed steps of the preset's own Trainer on N+2 of the preset's training batches
(Multi30k, its joint byte-level BPE, padded batches of at most max_tokens tokens), drawn once with
a fixed seed, and writes those batches. PyTorch 1.13 (Debian's python3-torch, same threads) then
trains the preset's model written with torch.nn.Transformer — d_model, heads, layers, ffn_dim and
dropout of the preset, norm_first for a pre-LN (Pegasus) preset, batch_first, key-padding masks
and a causal mask — with the shared embedding scaled by √d_model plus sinusoidal positions and
dropout, the output layer tied to the embedding, label-smoothed cross-entropy over the target
tokens (padding ignored), AdamW with the preset's betas, weight decay and learning rate, and
gradient clipping at the preset's norm, on exactly the same batches in the same order. goformer
runs again after PyTorch, and both goformer runs are printed (the host is noisy). FLOPs are
goformer's count (`bench train`'s doc), the same for both.
"""
import argparse, json, math, os, subprocess, sys, tempfile, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def sinusoids(n, d):
    # Marian/Pegasus layout: sin in the first half, cos in the second.
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(d // 2, dtype=torch.float64)[None, :]
    ang = pos / torch.pow(10000.0, 2 * i / d)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1).float()


class Translator(nn.Module):
    def __init__(self, cfg, vocab, pad, max_pos):
        super().__init__()
        d = cfg["d_model"]
        self.scale, self.pad = math.sqrt(d), pad
        self.emb = nn.Embedding(vocab, d, padding_idx=pad)
        nn.init.normal_(self.emb.weight, std=cfg.get("init_std") or 0.02)
        self.register_buffer("pos", sinusoids(max_pos, d))
        self.drop = nn.Dropout(cfg["dropout"])
        self.t = nn.Transformer(d_model=d, nhead=cfg["heads"], num_encoder_layers=cfg["layers"], num_decoder_layers=cfg["layers"],
                                dim_feedforward=cfg["ffn_dim"], dropout=cfg["dropout"], activation=cfg["activation_function"],
                                batch_first=True, norm_first=cfg["pre_ln"])

    def embed(self, ids):
        return self.drop(self.emb(ids) * self.scale + self.pos[: ids.shape[1]])

    def forward(self, src, src_pad, tgt_in, tgt_pad):
        T = tgt_in.shape[1]
        causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        h = self.t(self.embed(src), self.embed(tgt_in), tgt_mask=causal, src_key_padding_mask=src_pad,
                   tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=src_pad)
        return h @ self.emb.weight.T


def torch_seconds(spec, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg, pad = spec["config"], spec["pad"]
    max_pos = max(max(b["SrcLen"], b["TgtLen"]) for b in spec["batches"]) + 2
    m = Translator(cfg, spec["vocab_size"], pad, max_pos)
    m.train(cfg["dropout"] > 0)
    decay = [q for q in m.parameters() if q.dim() >= 2]
    nodecay = [q for q in m.parameters() if q.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["weight_decay"]}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=cfg["learning_rate"], betas=(cfg["beta1"], cfg["beta2"]))
    batches = []
    for b in spec["batches"]:
        B, S, T = b["B"], b["SrcLen"], b["TgtLen"]
        batches.append((torch.tensor(b["Src"]).view(B, S), torch.tensor(b["SrcPad"]).view(B, S),
                        torch.tensor(b["TgtIn"]).view(B, T), torch.tensor(b["TgtPad"]).view(B, T),
                        torch.tensor(b["Labels"], dtype=torch.long).view(B, T)))

    def step(b):
        src, src_pad, tgt_in, tgt_pad, labels = b
        logits = m(src, src_pad, tgt_in, tgt_pad)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=pad,
                               label_smoothing=cfg["label_smoothing"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), cfg["grad_clip"])
        opt.step()
        return loss.item()

    losses = [step(b) for b in batches[:2]]
    t0 = time.perf_counter()
    losses += [step(b) for b in batches[2:]]
    return time.perf_counter() - t0, losses


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--goformer")
    ap.add_argument("--preset", default="multi30k-de-en")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    exe = args.goformer
    if not exe:
        exe = os.path.join(tempfile.mkdtemp(), "goformer")
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        subprocess.run(["go", "build", "-o", exe, "./cmd/goformer"], cwd=root, check=True)
    path = os.path.join(tempfile.mkdtemp(), "batches.json")
    cmd = [exe, "bench", "train", "--preset", args.preset, "--iters", str(args.iters), "--threads", str(args.threads), "--json"]
    g1 = json.loads(subprocess.run(cmd + ["--write-batches", path], check=True, capture_output=True, text=True).stdout)
    spec = json.load(open(path))
    secs, losses = torch_seconds(spec, args.threads)
    g2 = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    ms = secs / args.iters * 1e3
    tokens = sum(b["Tokens"] for b in spec["batches"][2:])
    flops = g1["flops_per_step"]
    print(f"{args.preset}: {args.iters} timed steps on the same batches ({tokens} target tokens, {flops / 1e9:.1f} GFLOP a step), {args.threads} threads")
    for name, g in (("goformer (before)", g1), ("goformer (after)", g2)):
        print(f"{name}: {g['ms_per_step']:.1f} ms/step, {g['tokens_per_s']:.0f} target tokens/s, {g['gflops']:.1f} GFLOPS")
    print(f"PyTorch {torch.__version__}: {ms:.1f} ms/step, {tokens / secs:.0f} target tokens/s, {flops / ms / 1e6:.1f} GFLOPS "
          f"(losses {losses[0]:.3f} → {losses[-1]:.3f})")
    best = min(g1["ms_per_step"], g2["ms_per_step"])
    worst = max(g1["ms_per_step"], g2["ms_per_step"])
    print(f"ratio (PyTorch ms/step ÷ goformer's): {ms / worst:.2f}–{ms / best:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"preset": args.preset, "iters": args.iters, "threads": args.threads, "torch": torch.__version__,
                       "goformer": [g1, g2], "pytorch_ms_per_step": ms, "pytorch_losses": losses,
                       "target_tokens": tokens, "flops_per_step": flops}, f, indent=1)


if __name__ == "__main__":
    main()
