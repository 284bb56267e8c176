#!/usr/bin/python3
"""Write the PyTorch fixture for goformer's training-trajectory test.

Usage: /usr/bin/python3 scripts/reference/trajectory.py  (from the repository root)

Starting from the GPT-2 checkpoint of models/gpt/testdata/tiny (written by
gpt.py), train it for STEPS steps on fixed batches exactly as goformer's
train.Trainer does with optim.AdamW: mean cross-entropy, global gradient-norm
clipping at 1.0 (PyTorch's clip_grad_norm_ arithmetic), torch.optim.AdamW with
betas (0.9, 0.99), eps 1e-8 and weight decay 0.1 on matrices only, the
learning rate from nanoGPT's warmup + cosine schedule. The computation is in
float64 from the float32 weights. It writes train/testdata/trajectory_torch.safetensors:
the batches (ids, targets), the loss and gradient norm of every step, and the
final parameters.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from gpt import forward  # noqa: E402

STEPS, BATCH, T = 40, 4, 16
LR, MIN_LR, WARMUP = 3e-3, 3e-4, 5


def lr_at(step):
    if step < WARMUP:
        return LR * (step + 1) / (WARMUP + 1)
    if step > STEPS:
        return MIN_LR
    ratio = (step - WARMUP) / max(1, STEPS - WARMUP)
    return MIN_LR + 0.5 * (1 + math.cos(math.pi * ratio)) * (LR - MIN_LR)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    tiny = os.path.join(root, "models", "gpt", "testdata", "tiny")
    cfg = json.load(open(os.path.join(tiny, "config.json")))
    w32 = {k: v for k, v in st.load(os.path.join(tiny, "model.safetensors")).items() if not k.endswith(".attn.bias")}
    w = {k: v.double().clone().requires_grad_() for k, v in w32.items()}
    decay = [p for k, p in w.items() if p.dim() >= 2]
    no_decay = [p for k, p in w.items() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.99), eps=1e-8)
    gen = torch.Generator().manual_seed(7)
    # A learnable stream: targets follow from the ids.
    stream = (torch.arange(2000) * 7 + torch.arange(2000) // 13) % cfg["vocab_size"]
    ids, targets, losses, norms = [], [], [], []
    for step in range(STEPS):
        off = torch.randint(0, len(stream) - T - 1, (BATCH,), generator=gen)
        x = torch.stack([stream[o:o + T] for o in off])
        y = torch.stack([stream[o + 1:o + T + 1] for o in off])
        ids.append(x)
        targets.append(y)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad()
        _, loss = forward(cfg, w, x, y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(w.values()), 1.0)
        opt.step()
        losses.append(loss.detach())
        norms.append(norm.detach())
    out = {"ids": torch.stack(ids).float(), "targets": torch.stack(targets).float(),
           "losses": torch.stack(losses), "grad_norms": torch.stack(norms)}
    for k, v in w.items():
        out["final." + k] = v.detach()
    path = os.path.join(root, "train", "testdata", "trajectory_torch.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    st.save(path, out, {"torch": torch.__version__, "steps": STEPS, "lr": LR, "min_lr": MIN_LR, "warmup": WARMUP})
    print(f"wrote {path}: loss {losses[0].item():.4f} → {losses[-1].item():.4f}")


if __name__ == "__main__":
    main()
