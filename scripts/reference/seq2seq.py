#!/usr/bin/python3
"""Write the PyTorch fixtures for goformer's encoder-decoder tests.

Usage: /usr/bin/python3 scripts/reference/seq2seq.py  (from the repository root)

A whole torch.nn.Transformer with a shared embedding scaled by √d_model,
sinusoidal positions (sines in the first half, cosines in the second), an
output projection tied to the embedding plus a logits bias, and
cross-entropy with label smoothing 0.1 ignoring padding:
  - norm_first=True, with nn.Transformer's final encoder and decoder norms:
    a Pegasus model;
  - norm_first=False without final norms: a Marian model (the paper's post-LN).
For each, models/seq2seq/testdata/<name>/ is a Hugging Face checkpoint
directory with the parameters renamed to transformers' names, and
<name>_ref.safetensors holds the batch, logits, loss and every parameter's
gradient (float64 computation from float32 weights).
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

V, D, H, FFN, N, MAXPOS, PAD = 23, 16, 4, 32, 2, 32, 0
B, S, T = 2, 7, 6


def sinusoid(n, d):
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(d // 2, dtype=torch.float64)[None, :]
    ang = pos / torch.pow(10000.0, 2 * i / d)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)


def mha(prefix, m):
    w, b = m.in_proj_weight, m.in_proj_bias
    return {prefix + ".q_proj.weight": w[:D], prefix + ".k_proj.weight": w[D:2 * D], prefix + ".v_proj.weight": w[2 * D:],
            prefix + ".q_proj.bias": b[:D], prefix + ".k_proj.bias": b[D:2 * D], prefix + ".v_proj.bias": b[2 * D:],
            prefix + ".out_proj.weight": m.out_proj.weight, prefix + ".out_proj.bias": m.out_proj.bias}


def hf_names(tr, emb, pre_ln):
    out = {"model.shared.weight": emb.weight}
    for i, l in enumerate(tr.encoder.layers):
        p = f"model.encoder.layers.{i}"
        out.update(mha(p + ".self_attn", l.self_attn))
        out.update({p + ".fc1.weight": l.linear1.weight, p + ".fc1.bias": l.linear1.bias,
                    p + ".fc2.weight": l.linear2.weight, p + ".fc2.bias": l.linear2.bias,
                    p + ".self_attn_layer_norm.weight": l.norm1.weight, p + ".self_attn_layer_norm.bias": l.norm1.bias,
                    p + ".final_layer_norm.weight": l.norm2.weight, p + ".final_layer_norm.bias": l.norm2.bias})
    for i, l in enumerate(tr.decoder.layers):
        p = f"model.decoder.layers.{i}"
        out.update(mha(p + ".self_attn", l.self_attn))
        out.update(mha(p + ".encoder_attn", l.multihead_attn))
        out.update({p + ".fc1.weight": l.linear1.weight, p + ".fc1.bias": l.linear1.bias,
                    p + ".fc2.weight": l.linear2.weight, p + ".fc2.bias": l.linear2.bias,
                    p + ".self_attn_layer_norm.weight": l.norm1.weight, p + ".self_attn_layer_norm.bias": l.norm1.bias,
                    p + ".encoder_attn_layer_norm.weight": l.norm2.weight, p + ".encoder_attn_layer_norm.bias": l.norm2.bias,
                    p + ".final_layer_norm.weight": l.norm3.weight, p + ".final_layer_norm.bias": l.norm3.bias})
    if pre_ln:
        out.update({"model.encoder.layer_norm.weight": tr.encoder.norm.weight, "model.encoder.layer_norm.bias": tr.encoder.norm.bias,
                    "model.decoder.layer_norm.weight": tr.decoder.norm.weight, "model.decoder.layer_norm.bias": tr.decoder.norm.bias})
    return out


def build(pre_ln):
    if pre_ln:
        tr = torch.nn.Transformer(D, H, N, N, FFN, dropout=0.0, batch_first=True, norm_first=True)
    else:
        el = torch.nn.TransformerEncoderLayer(D, H, FFN, dropout=0.0, batch_first=True)
        dl = torch.nn.TransformerDecoderLayer(D, H, FFN, dropout=0.0, batch_first=True)
        tr = torch.nn.Transformer(D, H, N, N, FFN, dropout=0.0, batch_first=True,
                                  custom_encoder=torch.nn.TransformerEncoder(el, N, norm=None),
                                  custom_decoder=torch.nn.TransformerDecoder(dl, N, norm=None))
    emb = torch.nn.Embedding(V, D)
    with torch.no_grad():
        for n, p in list(tr.named_parameters()) + list(emb.named_parameters()):
            base = 1.0 if "norm" in n and n.endswith("weight") else 0.0
            p.copy_(base + torch.randn_like(p) * 0.3)
    return tr.double(), emb.double()


def main():
    torch.manual_seed(11)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    out_dir = os.path.join(root, "models", "seq2seq", "testdata")
    src = torch.randint(1, V, (B, S))
    src[1, -2:] = PAD
    tgt_full = torch.randint(1, V, (B, T + 1))
    tgt_full[:, 0] = PAD  # decoder start token = pad, as Marian
    tgt_full[0, -2:] = PAD
    tgt_in, labels = tgt_full[:, :-1].clone(), tgt_full[:, 1:].clone()
    src_pad, tgt_pad = src == PAD, tgt_in == PAD
    tgt_pad[:, 0] = False  # the start token is a real query position
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    pe = sinusoid(MAXPOS, D)
    for name, pre_ln in (("pegasus", True), ("marian", False)):
        tr, emb = build(pre_ln)
        bias = (torch.randn(1, V) * 0.1).double()
        names = hf_names(tr, emb, pre_ln)
        weights32 = {k: v.detach().float().clone() for k, v in names.items()}
        scale = math.sqrt(D)
        xs = emb(src) * scale + pe[:S]
        xt = emb(tgt_in) * scale + pe[:T]
        y = tr(xs, xt, tgt_mask=causal, src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad,
               memory_key_padding_mask=src_pad)
        logits = y @ emb.weight.T + bias
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=PAD, label_smoothing=0.1)
        loss.backward()
        saved = {n: p.data for n, p in list(tr.named_parameters()) + list(emb.named_parameters())}
        for n, p in list(tr.named_parameters()) + list(emb.named_parameters()):
            p.data = p.grad
        grads = {k: v.detach().clone() for k, v in hf_names(tr, emb, pre_ln).items()}
        for n, p in list(tr.named_parameters()) + list(emb.named_parameters()):
            p.data = saved[n]
        ckpt = os.path.join(out_dir, name)
        os.makedirs(ckpt, exist_ok=True)
        tensors = dict(weights32)
        tensors["final_logits_bias"] = bias.float()
        tensors["model.encoder.embed_positions.weight"] = pe.float()
        tensors["model.decoder.embed_positions.weight"] = pe.float()
        st.save(os.path.join(ckpt, "model.safetensors"), tensors, {"format": "pt"})
        cfg = {"model_type": name, "vocab_size": V, "d_model": D, "encoder_layers": N, "decoder_layers": N,
               "encoder_attention_heads": H, "decoder_attention_heads": H, "encoder_ffn_dim": FFN, "decoder_ffn_dim": FFN,
               "activation_function": "relu", "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0,
               "max_position_embeddings": MAXPOS, "scale_embedding": True, "pad_token_id": PAD, "eos_token_id": 1,
               "decoder_start_token_id": PAD}
        with open(os.path.join(ckpt, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        ref = {"src": src.float(), "tgt_in": tgt_in.float(), "labels": labels.float(),
               "src_pad": src_pad.float(), "tgt_pad": tgt_pad.float(), "logits": logits, "loss": loss.reshape(1)}
        for k, v in grads.items():
            ref["grad." + k] = v
        st.save(os.path.join(out_dir, name + "_ref.safetensors"), ref, {"torch": torch.__version__})
        print(name, "loss", loss.item())


if __name__ == "__main__":
    main()
