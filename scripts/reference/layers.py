#!/usr/bin/python3
"""Write the PyTorch fixture for goformer's nn layer tests.

Usage: /usr/bin/python3 scripts/reference/layers.py  (from the repository root)

Cases: torch.nn.MultiheadAttention (self-attention with causal and key
padding masks; cross-attention with key padding), TransformerEncoderLayer and
TransformerDecoderLayer with norm_first True and False (ReLU, dropout 0,
batch_first). Parameters are renamed to Hugging Face's BART-family names
(in_proj_weight split into q_proj/k_proj/v_proj, linear1 → fc1, norm1 →
self_attn_layer_norm, ...). For each case the file holds the inputs, the
output, the output gradient and the gradients of the inputs and of every
parameter, computed in float64 from float32 values.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

torch.manual_seed(7)
D, H, FFN, B, T, S = 16, 4, 32, 2, 7, 9


def mha_params(prefix, m):
    w, b = m.in_proj_weight, m.in_proj_bias
    return {prefix + ".q_proj.weight": w[:D], prefix + ".k_proj.weight": w[D:2 * D], prefix + ".v_proj.weight": w[2 * D:],
            prefix + ".q_proj.bias": b[:D], prefix + ".k_proj.bias": b[D:2 * D], prefix + ".v_proj.bias": b[2 * D:],
            prefix + ".out_proj.weight": m.out_proj.weight, prefix + ".out_proj.bias": m.out_proj.bias}


def randomize(mod):
    with torch.no_grad():
        for n, p in mod.named_parameters():
            base = 1.0 if "norm" in n and n.endswith("weight") else 0.0
            p.copy_(base + torch.randn_like(p) * 0.3)
    return mod


def main():
    tensors, meta = {}, {}
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True = masked
    tgt_pad = torch.zeros(B, T, dtype=torch.bool)
    tgt_pad[1, -2:] = True
    src_pad = torch.zeros(B, S, dtype=torch.bool)
    src_pad[0, -3:] = True

    def record(name, kind, module, names, inputs, run, extra_meta):
        module = randomize(module).double()
        xs = [x.double().requires_grad_() for x in inputs]
        out = run(module, xs)
        dout = torch.randn_like(out)
        out.backward(dout)
        params = names(module)
        for k, v in params.items():
            tensors[f"{name}.param.{k}"] = v.detach()
        # Gradients of the renamed views: recompute via the module's own grads.
        for k, v in names_grad(module, names).items():
            tensors[f"{name}.grad.{k}"] = v
        for i, x in enumerate(xs):
            tensors[f"{name}.in{i}"] = x.detach()
            tensors[f"{name}.grad.in{i}"] = x.grad
        tensors[f"{name}.out"] = out.detach()
        tensors[f"{name}.dout"] = dout
        tensors[f"{name}.tgt_pad"] = tgt_pad.float()
        tensors[f"{name}.src_pad"] = src_pad.float()
        meta[name] = json.dumps(dict(kind=kind, d=D, heads=H, ffn=FFN, batch=B, t=T, s=S, **extra_meta))

    def names_grad(module, names):
        # names() maps HF names to (views of) module parameters; the same
        # mapping applied to the .grad tensors gives their gradients.
        saved = {n: p.data for n, p in module.named_parameters()}
        for n, p in module.named_parameters():
            p.data = p.grad
        g = {k: v.detach().clone() for k, v in names(module).items()}
        for n, p in module.named_parameters():
            p.data = saved[n]
        return g

    x = torch.randn(B, T, D)
    mem = torch.randn(B, S, D)

    mha = torch.nn.MultiheadAttention(D, H, batch_first=True)
    record("mha_self", "mha_self", mha, lambda m: mha_params("attn", m), [x],
           lambda m, xs: m(xs[0], xs[0], xs[0], attn_mask=causal, key_padding_mask=tgt_pad, need_weights=False)[0], {})
    mha2 = torch.nn.MultiheadAttention(D, H, batch_first=True)
    record("mha_cross", "mha_cross", mha2, lambda m: mha_params("attn", m), [x, mem],
           lambda m, xs: m(xs[0], xs[1], xs[1], key_padding_mask=src_pad, need_weights=False)[0], {})

    for nf in (False, True):
        enc = torch.nn.TransformerEncoderLayer(D, H, FFN, dropout=0.0, batch_first=True, norm_first=nf)
        enc_names = lambda m: {**mha_params("layer.self_attn", m.self_attn),
                               "layer.fc1.weight": m.linear1.weight, "layer.fc1.bias": m.linear1.bias,
                               "layer.fc2.weight": m.linear2.weight, "layer.fc2.bias": m.linear2.bias,
                               "layer.self_attn_layer_norm.weight": m.norm1.weight, "layer.self_attn_layer_norm.bias": m.norm1.bias,
                               "layer.final_layer_norm.weight": m.norm2.weight, "layer.final_layer_norm.bias": m.norm2.bias}
        record(f"encoder_norm_first_{nf}", "encoder", enc, enc_names, [x],
               lambda m, xs: m(xs[0], src_key_padding_mask=tgt_pad), {"norm_first": nf})
        dec = torch.nn.TransformerDecoderLayer(D, H, FFN, dropout=0.0, batch_first=True, norm_first=nf)
        dec_names = lambda m: {**mha_params("layer.self_attn", m.self_attn), **mha_params("layer.encoder_attn", m.multihead_attn),
                               "layer.fc1.weight": m.linear1.weight, "layer.fc1.bias": m.linear1.bias,
                               "layer.fc2.weight": m.linear2.weight, "layer.fc2.bias": m.linear2.bias,
                               "layer.self_attn_layer_norm.weight": m.norm1.weight, "layer.self_attn_layer_norm.bias": m.norm1.bias,
                               "layer.encoder_attn_layer_norm.weight": m.norm2.weight, "layer.encoder_attn_layer_norm.bias": m.norm2.bias,
                               "layer.final_layer_norm.weight": m.norm3.weight, "layer.final_layer_norm.bias": m.norm3.bias}
        record(f"decoder_norm_first_{nf}", "decoder", dec, dec_names, [x, mem],
               lambda m, xs: m(xs[0], xs[1], tgt_mask=causal, tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=src_pad),
               {"norm_first": nf})

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    path = os.path.join(root, "nn", "testdata", "layers_torch.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    st.save(path, tensors, meta)
    print("wrote", os.path.relpath(path, root), os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
