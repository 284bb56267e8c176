#!/usr/bin/python3
"""Write the PyTorch fixture for goformer's GPT-2 tests.

Usage: /usr/bin/python3 scripts/reference/gpt.py  (from the repository root)

A small GPT-2, written out in PyTorch exactly as Hugging Face's
GPT2LMHeadModel computes (Conv1D weights [in, out], fused c_attn split
into q, k, v, causal attention scaled by 1/sqrt(d), GELU tanh form, pre-LN
blocks, final ln_f, output tied to wte), with random weights. It writes:

  models/gpt/testdata/tiny/         a Hugging Face checkpoint directory, as
                                    published GPT-2 files are: tensor names
                                    without the transformer. prefix, with the
                                    attn.bias mask buffers;
  models/gpt/testdata/tiny_ref.safetensors  ids, targets, logits, loss and the
                                    gradient of every parameter (float64
                                    computation from the float32 weights);
  models/gpt/testdata/from_goformer_ref.safetensors  the logits this GPT-2 gives
                                    with the checkpoint goformer saved in
                                    models/gpt/testdata/from_goformer/ (made by
                                    go test ./models/gpt -run FromGoformer -update).
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

CFG = {"vocab_size": 37, "n_positions": 16, "n_embd": 24, "n_layer": 2, "n_head": 3, "n_inner": None,
       "layer_norm_epsilon": 1e-5, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
       "initializer_range": 0.02, "activation_function": "gelu_new", "model_type": "gpt2",
       "architectures": ["GPT2LMHeadModel"]}


def params(cfg, gen):
    c, v, p, inner = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], 4 * cfg["n_embd"]
    r = lambda *s: torch.randn(*s, generator=gen) * 0.3
    w = {"wte.weight": r(v, c), "wpe.weight": r(p, c)}
    for i in range(cfg["n_layer"]):
        h = f"h.{i}."
        w[h + "ln_1.weight"] = 1 + r(c) / 3
        w[h + "ln_1.bias"] = r(c) / 3
        w[h + "attn.c_attn.weight"] = r(c, 3 * c)
        w[h + "attn.c_attn.bias"] = r(3 * c)
        w[h + "attn.c_proj.weight"] = r(c, c)
        w[h + "attn.c_proj.bias"] = r(c)
        w[h + "ln_2.weight"] = 1 + r(c) / 3
        w[h + "ln_2.bias"] = r(c) / 3
        w[h + "mlp.c_fc.weight"] = r(c, inner)
        w[h + "mlp.c_fc.bias"] = r(inner)
        w[h + "mlp.c_proj.weight"] = r(inner, c)
        w[h + "mlp.c_proj.bias"] = r(c)
    w["ln_f.weight"] = 1 + r(c) / 3
    w["ln_f.bias"] = r(c) / 3
    return w


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def forward(cfg, w, ids, targets):
    b, t = ids.shape
    c, nh = cfg["n_embd"], cfg["n_head"]
    hd = c // nh
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (c,), w[p + ".weight"], w[p + ".bias"], cfg["layer_norm_epsilon"])
    conv = lambda x, p: x @ w[p + ".weight"] + w[p + ".bias"]
    x = w["wte.weight"][ids] + w["wpe.weight"][torch.arange(t)]
    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
    for i in range(cfg["n_layer"]):
        h = f"h.{i}."
        q, k, v = conv(ln(x, h + "ln_1"), h + "attn.c_attn").split(c, dim=2)
        q, k, v = (z.view(b, t, nh, hd).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        att = torch.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + conv(y, h + "attn.c_proj")
        x = x + conv(gelu_new(conv(ln(x, h + "ln_2"), h + "mlp.c_fc")), h + "mlp.c_proj")
    x = ln(x, "ln_f")
    logits = x @ w["wte.weight"].T
    loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
    return logits, loss


def main():
    gen = torch.Generator().manual_seed(42)
    w32 = params(CFG, gen)
    b, t = 2, 11
    ids = torch.randint(0, CFG["vocab_size"], (b, t), generator=gen)
    targets = torch.randint(0, CFG["vocab_size"], (b, t), generator=gen)
    targets[1, 3] = -1  # an ignored position
    w = {k: v.double().requires_grad_() for k, v in w32.items()}
    logits, loss = forward(CFG, w, ids, targets)
    loss.backward()

    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    out = os.path.join(root, "models", "gpt", "testdata")
    os.makedirs(os.path.join(out, "tiny"), exist_ok=True)
    ckpt = dict(w32)
    for i in range(CFG["n_layer"]):  # buffers that published GPT-2 files carry
        ckpt[f"h.{i}.attn.bias"] = torch.tril(torch.ones(CFG["n_positions"], CFG["n_positions"])).view(1, 1, CFG["n_positions"], CFG["n_positions"])
    st.save(os.path.join(out, "tiny", "model.safetensors"), ckpt, {"format": "pt"})
    with open(os.path.join(out, "tiny", "config.json"), "w") as f:
        json.dump(CFG, f, indent=2)
    ref = {"ids": ids.float(), "targets": targets.float(), "logits": logits, "loss": loss.reshape(1)}
    for k, v in w.items():
        ref["grad." + k] = v.grad
    st.save(os.path.join(out, "tiny_ref.safetensors"), ref, {"torch": torch.__version__})
    print("wrote models/gpt/testdata/tiny and tiny_ref.safetensors, loss", loss.item())

    # A checkpoint written by goformer: names with the transformer. prefix,
    # Conv1D weights [in, out], no lm_head (tied).
    gdir = os.path.join(out, "from_goformer")
    if os.path.exists(os.path.join(gdir, "model.safetensors")):
        with open(os.path.join(gdir, "config.json")) as f:
            gcfg = json.load(f)
        gw = {k.removeprefix("transformer."): v.double() for k, v in st.load(os.path.join(gdir, "model.safetensors")).items()}
        gids = torch.arange(2 * 7).reshape(2, 7) % gcfg["vocab_size"]
        glogits, _ = forward(gcfg, gw, gids, gids)
        st.save(os.path.join(out, "from_goformer_ref.safetensors"), {"ids": gids.float(), "logits": glogits}, {"torch": torch.__version__})
        print("wrote from_goformer_ref.safetensors")


if __name__ == "__main__":
    main()
