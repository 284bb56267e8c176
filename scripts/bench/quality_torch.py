#!/usr/bin/python3
"""Train nanoGPT's small Shakespeare model in PyTorch and report its validation loss the way
`goformer eval` does, to compare with `goformer train --preset shakespeare-char-small`.

Usage: /usr/bin/python3 scripts/bench/quality_torch.py [--steps 2000] [--seed 1337]

Same data (Tiny Shakespeare, sorted character vocabulary, first 90% train), same model
(train_vs_torch.py's nanoGPT GPT with biases), AdamW (0.9, 0.99), weight decay 0.1 on matrices,
lr 1e-3 with 100 warmup steps and cosine to 1e-4, grad clip 1.0, batch 12 × 64, 2 threads.
The validation loss is the mean cross-entropy over the whole validation split in consecutive
64-token windows.
"""
import argparse, math, os, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_vs_torch import GPT  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1337)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    text = open(os.path.join(root, "data", "shakespeare", "input.txt"), encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([stoi[c] for c in text])
    n = int(0.9 * len(ids))
    train, val = ids[:n], ids[n:]
    block, batch = 64, 12
    m = GPT(len(chars), 4, 4, 128, block, 0.0)
    decay = [p for p in m.parameters() if p.dim() >= 2]
    nodecay = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.99))

    def lr(it):
        if it < 100:
            return 1e-3 * (it + 1) / 101
        ratio = (it - 100) / (args.steps - 100)
        return 1e-4 + 0.5 * (1 + math.cos(math.pi * min(ratio, 1))) * (1e-3 - 1e-4)
    t0 = time.time()
    for it in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr(it)
        ix = torch.randint(len(train) - block, (batch,))
        x = torch.stack([train[i:i + block] for i in ix])
        y = torch.stack([train[i + 1:i + 1 + block] for i in ix])
        loss = m(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
    m.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(val) - 1, block):
            k = min(block, len(val) - 1 - s)
            total += m(val[s:s + k][None], val[s + 1:s + 1 + k][None]).item() * k
            count += k
    print(f"PyTorch nanoGPT, {args.steps} steps, seed {args.seed}: val cross-entropy {total / count:.4f} over {count} tokens ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
