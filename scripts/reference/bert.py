#!/usr/bin/python3
"""Write the PyTorch fixtures for goformer's BERT tests.

Usage: /usr/bin/python3 scripts/reference/bert.py  (from the repository root)

A small BERT written out in PyTorch as transformers' BertForMaskedLM and
BertForQuestionAnswering compute it (embeddings word + position + token type
then LayerNorm(eps 1e-12); post-LN layers with exact GELU; the MLM head
dense → GELU → LayerNorm → tied decoder + bias; the QA head qa_outputs with
loss (CE(start) + CE(end))/2), with random weights and a padded batch.
Writes models/bert/testdata/{mlm,qa}/ (Hugging Face checkpoint directories)
and {mlm,qa}_ref.safetensors (batch, logits, loss, every gradient).
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

CFG = {"model_type": "bert", "vocab_size": 29, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
       "intermediate_size": 32, "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
       "max_position_embeddings": 20, "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
       "pad_token_id": 0}
B, T = 2, 9


def params(head, gen):
    h, v, i = CFG["hidden_size"], CFG["vocab_size"], CFG["intermediate_size"]
    r = lambda *s: torch.randn(*s, generator=gen) * 0.3
    ln = lambda p: {p + ".weight": 1 + r(h) / 3, p + ".bias": r(h) / 3}
    w = {"bert.embeddings.word_embeddings.weight": r(v, h), "bert.embeddings.position_embeddings.weight": r(CFG["max_position_embeddings"], h),
         "bert.embeddings.token_type_embeddings.weight": r(2, h), **ln("bert.embeddings.LayerNorm")}
    for l in range(CFG["num_hidden_layers"]):
        p = f"bert.encoder.layer.{l}."
        for n, (o, ii) in {"attention.self.query": (h, h), "attention.self.key": (h, h), "attention.self.value": (h, h),
                           "attention.output.dense": (h, h), "intermediate.dense": (i, h), "output.dense": (h, i)}.items():
            w[p + n + ".weight"], w[p + n + ".bias"] = r(o, ii), r(o)
        w.update(ln(p + "attention.output.LayerNorm"))
        w.update(ln(p + "output.LayerNorm"))
    if head == "mlm":
        w["cls.predictions.transform.dense.weight"], w["cls.predictions.transform.dense.bias"] = r(h, h), r(h)
        w.update(ln("cls.predictions.transform.LayerNorm"))
        w["cls.predictions.bias"] = r(v)
    else:
        w["qa_outputs.weight"], w["qa_outputs.bias"] = r(2, h), r(2)
    return w


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def encode(w, ids, types, pad):
    h, nh = CFG["hidden_size"], CFG["num_attention_heads"]
    hd, eps = h // nh, CFG["layer_norm_eps"]
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (h,), w[p + ".weight"], w[p + ".bias"], eps)
    lin = lambda x, p: x @ w[p + ".weight"].T + w[p + ".bias"]
    x = w["bert.embeddings.word_embeddings.weight"][ids] + w["bert.embeddings.position_embeddings.weight"][torch.arange(T)] \
        + w["bert.embeddings.token_type_embeddings.weight"][types]
    x = ln(x, "bert.embeddings.LayerNorm")
    for l in range(CFG["num_hidden_layers"]):
        p = f"bert.encoder.layer.{l}."
        q, k, v = (lin(x, p + "attention.self." + n).view(B, T, nh, hd).transpose(1, 2) for n in ("query", "key", "value"))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        att = torch.softmax(att.masked_fill(pad.view(B, 1, 1, T), float("-inf")), dim=-1)
        a = (att @ v).transpose(1, 2).reshape(B, T, h)
        x = ln(x + lin(a, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        x = ln(x + lin(gelu(lin(x, p + "intermediate.dense")), p + "output.dense"), p + "output.LayerNorm")
    return x


def main():
    gen = torch.Generator().manual_seed(5)
    ids = torch.randint(1, CFG["vocab_size"], (B, T), generator=gen)
    ids[1, -3:] = 0
    pad = ids == 0
    types = torch.zeros(B, T, dtype=torch.long)
    types[:, 5:] = 1
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    out = os.path.join(root, "models", "bert", "testdata")
    for head in ("mlm", "qa"):
        w32 = params(head, gen)
        w = {k: v.double().requires_grad_() for k, v in w32.items()}
        x = encode(w, ids, types, pad)
        ref = {"ids": ids.float(), "types": types.float(), "pad": pad.float()}
        if head == "mlm":
            labels = torch.full((B, T), -100)
            labels[0, 2], labels[0, 6], labels[1, 1] = 3, 7, 11
            hdn = torch.nn.functional.layer_norm(gelu(x @ w["cls.predictions.transform.dense.weight"].T + w["cls.predictions.transform.dense.bias"]),
                                                 (CFG["hidden_size"],), w["cls.predictions.transform.LayerNorm.weight"],
                                                 w["cls.predictions.transform.LayerNorm.bias"], CFG["layer_norm_eps"])
            logits = hdn @ w["bert.embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]
            loss = torch.nn.functional.cross_entropy(logits.view(-1, CFG["vocab_size"]), labels.view(-1), ignore_index=-100)
            ref["labels"] = labels.float()
            arch = "BertForMaskedLM"
        else:
            logits = x @ w["qa_outputs.weight"].T + w["qa_outputs.bias"]
            starts, ends = torch.tensor([1, 2]), torch.tensor([4, 5])
            loss = (torch.nn.functional.cross_entropy(logits[..., 0], starts) + torch.nn.functional.cross_entropy(logits[..., 1], ends)) / 2
            ref["starts"], ref["ends"] = starts.float(), ends.float()
            arch = "BertForQuestionAnswering"
        loss.backward()
        ref["logits"], ref["loss"] = logits, loss.reshape(1)
        for k, v in w.items():
            ref["grad." + k] = v.grad
        d = os.path.join(out, head)
        os.makedirs(d, exist_ok=True)
        st.save(os.path.join(d, "model.safetensors"), w32, {"format": "pt"})
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({**CFG, "architectures": [arch]}, f, indent=2)
        st.save(os.path.join(out, head + "_ref.safetensors"), ref, {"torch": torch.__version__})
        print(head, "loss", loss.item())


if __name__ == "__main__":
    main()
