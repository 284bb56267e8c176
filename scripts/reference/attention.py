#!/usr/bin/python3
"""Write the PyTorch fixture for goformer's attention tests.

Usage: /usr/bin/python3 scripts/reference/attention.py  (from the repository root)

For each case: random float32 q, k, v and output gradient in [B, H, T, d];
PyTorch computes softmax(QKᵀ/√d + mask)V as nanoGPT writes it (masked_fill
with -inf for the causal mask aligned to the end and for padded keys), in
float64 from those float32 inputs, and its backward; everything is stored in
internal/cpu/testdata/attention_torch.safetensors, with each case's sizes and
masks in the metadata. No case has a query that sees no key (PyTorch gives
NaN there; goformer gives zeros, tested separately).
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

CASES = [
    # name, B, H, Tq, Tk, d, causal, padded keys per batch row
    ("causal_pad", 2, 2, 37, 37, 16, True, [0, 5]),
    ("cross_tq_lt_tk", 2, 2, 5, 40, 80, True, [3, 0]),
    ("pad_only", 1, 1, 100, 100, 64, False, [17]),
    ("decode", 2, 2, 1, 65, 64, True, [0, 10]),
    ("plain", 1, 1, 257, 257, 16, False, [0]),
]


def main():
    torch.manual_seed(1234)
    tensors, meta = {}, {}
    for name, b, h, tq, tk, d, causal, pads in CASES:
        q = torch.randn(b, h, tq, d) * 1.5
        k, v = torch.randn(b, h, tk, d), torch.randn(b, h, tk, d)
        dout = torch.randn(b, h, tq, d)
        pad = torch.zeros(b, tk, dtype=torch.bool)
        for i, p in enumerate(pads):
            if p:
                pad[i, tk - p:] = True
        q64, k64, v64 = (x.double().requires_grad_() for x in (q, k, v))
        att = (q64 @ k64.transpose(-2, -1)) * (1.0 / math.sqrt(d))
        if causal:
            vis = torch.ones(tq, tk, dtype=torch.bool).tril(diagonal=tk - tq)
            att = att.masked_fill(~vis.view(1, 1, tq, tk), float("-inf"))
        att = att.masked_fill(pad.view(b, 1, 1, tk), float("-inf"))
        att = torch.softmax(att, dim=-1)
        out = att @ v64
        out.backward(dout.double())
        for key, t in [("q", q), ("k", k), ("v", v), ("dout", dout), ("out", out),
                       ("dq", q64.grad), ("dk", k64.grad), ("dv", v64.grad), ("pad", pad.float())]:
            tensors[f"{name}.{key}"] = t
        meta[name] = json.dumps({"batch": b, "heads": h, "tq": tq, "tk": tk, "dim": d, "causal": causal})
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    path = os.path.join(root, "internal", "cpu", "testdata", "attention_torch.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    st.save(path, tensors, meta)
    print("wrote", os.path.relpath(path, root), f"({os.path.getsize(path)} bytes, torch {torch.__version__})")


if __name__ == "__main__":
    main()
