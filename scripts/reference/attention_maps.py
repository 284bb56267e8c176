#!/usr/bin/python3
"""Write the PyTorch fixture for goformer's attention maps.

Usage: /usr/bin/python3 scripts/reference/attention_maps.py  (from the repository root)

Runs the reference renderings of GPT-2 (gpt.py), BART (bart.py) and T5 (t5.py)
on one sentence each, with the weights of their committed fixtures
(models/gpt/testdata/tiny, models/seq2seq/testdata/bart,
models/t5/testdata/t5-small), and records every attention probability matrix
in the order the model computes them (torch.softmax over the keys, captured):
GPT-2's causal self-attention per layer; BART's and T5's encoder
self-attention per layer, then per decoder layer its self- and
cross-attention. Writes attention/testdata/maps_ref.safetensors (the ids and
each map as "<model>.<index>", [heads, queries, keys]).
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bart  # noqa: E402
import gpt  # noqa: E402
import st  # noqa: E402
import t5  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
captured = []
_softmax = torch.softmax


def recording_softmax(x, dim):
    p = _softmax(x, dim=dim)
    captured.append(p.detach()[0].clone())  # batch row 0: [heads, queries, keys]
    return p


def load(path):
    return {k: v.double() for k, v in st.load(path).items()}


def main():
    torch.softmax = recording_softmax
    ref = {}
    with torch.no_grad():
        # GPT-2.
        with open(os.path.join(ROOT, "models/gpt/testdata/tiny/config.json")) as f:
            cfg = json.load(f)
        w = load(os.path.join(ROOT, "models/gpt/testdata/tiny/model.safetensors"))
        ids = torch.tensor([[3, 17, 5, 9, 30, 2, 11]])
        captured.clear()
        gpt.forward(cfg, w, ids, torch.zeros_like(ids))
        ref["gpt.ids"] = ids[0].float()
        for i, p in enumerate(captured):
            ref[f"gpt.{i}"] = p
        # BART.
        p = load(os.path.join(ROOT, "models/seq2seq/testdata/bart/model.safetensors"))
        src = torch.tensor([[bart.BOS, 7, 12, 4, 20, 9, bart.EOS]])
        tgt = torch.tensor([[bart.EOS, bart.BOS, 5, 8, 13]])
        captured.clear()
        memory = bart.encode(p, src, torch.zeros_like(src, dtype=torch.bool), math.sqrt(bart.D))
        bart.decode(p, memory, torch.zeros_like(src, dtype=torch.bool), tgt, None, math.sqrt(bart.D))
        ref["bart.src"], ref["bart.tgt"] = src[0].float(), tgt[0].float()
        for i, m in enumerate(captured):
            ref[f"bart.{i}"] = m
        # T5 (the relative position bias included).
        d = os.path.join(ROOT, "models/t5/testdata/t5-small")
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        m = t5.T5(cfg, load(os.path.join(d, "model.safetensors")))
        src = torch.tensor([[40, 51, 300, 17, 9, 88, 120, 1]])
        tgt = torch.tensor([[0, 64, 33, 900, 12]])
        captured.clear()
        memory = m.encode(src, torch.zeros_like(src, dtype=torch.bool))
        m.decode(memory, torch.zeros_like(src, dtype=torch.bool), tgt, None)
        ref["t5.src"], ref["t5.tgt"] = src[0].float(), tgt[0].float()
        for i, x in enumerate(captured):
            ref[f"t5.{i}"] = x
    out = os.path.join(ROOT, "attention", "testdata")
    os.makedirs(out, exist_ok=True)
    st.save(os.path.join(out, "maps_ref.safetensors"), ref, {"torch": torch.__version__})
    print({k: tuple(v.shape) for k, v in ref.items()})


if __name__ == "__main__":
    main()
