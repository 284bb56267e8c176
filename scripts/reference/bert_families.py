#!/usr/bin/python3
"""Write the PyTorch fixtures of goformer's RoBERTa and DistilBERT tests.

Usage: /usr/bin/python3 scripts/reference/bert_families.py  (from the repository root)

The BERT of bert.py, with what modeling_roberta.py and modeling_distilbert.py
change: RoBERTa's position ids count the non-padding tokens from
padding_idx + 1 (create_position_ids_from_input_ids; padding sits at
padding_idx), one token type; DistilBERT has no token-type embedding and its
own names (q_lin, sa_layer_norm, ffn.lin1, output_layer_norm, vocab_transform,
vocab_projector). For each family and head (masked LM, QA), writes
models/bert/testdata/<family>_<head>/ (config.json in the family's own fields,
model.safetensors with the family's names) and <family>_<head>_ref.safetensors
(batch, logits, loss, gradients by the family's names).
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert  # noqa: E402
import st  # noqa: E402

CFG = dict(bert.CFG)
B, T = bert.B, bert.T


def rename(family, key):
    """A BERT parameter name → the family's."""
    if family == "roberta":
        key = key.replace("bert.", "roberta.", 1)
        return {"cls.predictions.transform.dense.weight": "lm_head.dense.weight",
                "cls.predictions.transform.dense.bias": "lm_head.dense.bias",
                "cls.predictions.transform.LayerNorm.weight": "lm_head.layer_norm.weight",
                "cls.predictions.transform.LayerNorm.bias": "lm_head.layer_norm.bias",
                "cls.predictions.bias": "lm_head.bias"}.get(key, key)
    key = key.replace("bert.embeddings.", "distilbert.embeddings.").replace("bert.encoder.layer.", "distilbert.transformer.layer.")
    for a, b in (("attention.self.query", "attention.q_lin"), ("attention.self.key", "attention.k_lin"),
                 ("attention.self.value", "attention.v_lin"), ("attention.output.dense", "attention.out_lin"),
                 ("attention.output.LayerNorm", "sa_layer_norm"), ("intermediate.dense", "ffn.lin1"),
                 ("output.dense", "ffn.lin2"), ("output.LayerNorm", "output_layer_norm"),
                 ("cls.predictions.transform.dense", "vocab_transform"), ("cls.predictions.transform.LayerNorm", "vocab_layer_norm"),
                 ("cls.predictions.bias", "vocab_projector.bias")):
        key = key.replace(a, b)
    return key


def encode(family, w, ids, types, pad):
    """bert.encode with the family's positions and token types."""
    h, nh = CFG["hidden_size"], CFG["num_attention_heads"]
    hd, eps = h // nh, CFG["layer_norm_eps"]
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (h,), w[p + ".weight"], w[p + ".bias"], eps)
    lin = lambda x, p: x @ w[p + ".weight"].T + w[p + ".bias"]
    if family == "roberta":
        pidx = CFG["pad_token_id"]
        mask = (ids != pidx).long()
        positions = torch.cumsum(mask, dim=1) * mask + pidx
    else:
        positions = torch.arange(T).expand(B, T)
    x = w["bert.embeddings.word_embeddings.weight"][ids] + w["bert.embeddings.position_embeddings.weight"][positions]
    if family == "roberta":
        x = x + w["bert.embeddings.token_type_embeddings.weight"][types]
    x = ln(x, "bert.embeddings.LayerNorm")
    for l in range(CFG["num_hidden_layers"]):
        p = f"bert.encoder.layer.{l}."
        q, k, v = (lin(x, p + "attention.self." + n).view(B, T, nh, hd).transpose(1, 2) for n in ("query", "key", "value"))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        att = torch.softmax(att.masked_fill(pad.view(B, 1, 1, T), float("-inf")), dim=-1)
        a = (att @ v).transpose(1, 2).reshape(B, T, h)
        x = ln(x + lin(a, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        x = ln(x + lin(bert.gelu(lin(x, p + "intermediate.dense")), p + "output.dense"), p + "output.LayerNorm")
    return x


def main():
    gen = torch.Generator().manual_seed(9)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    out = os.path.join(root, "models", "bert", "testdata")
    for family in ("roberta", "distilbert"):
        cfg = dict(bert.CFG, pad_token_id=1)
        if family == "roberta":
            cfg.update(model_type="roberta", type_vocab_size=1, max_position_embeddings=CFG["max_position_embeddings"] + 2)
        CFG.clear()
        CFG.update(cfg)
        ids = torch.randint(2, CFG["vocab_size"], (B, T), generator=gen)
        ids[1, -3:] = CFG["pad_token_id"]
        pad = ids == CFG["pad_token_id"]
        types = torch.zeros(B, T, dtype=torch.long)
        for head in ("mlm", "qa"):
            w32 = bert.params(head, gen)
            if family == "roberta":
                w32["bert.embeddings.position_embeddings.weight"] = torch.randn(CFG["max_position_embeddings"], CFG["hidden_size"], generator=gen) * 0.3
                w32["bert.embeddings.token_type_embeddings.weight"] = torch.randn(1, CFG["hidden_size"], generator=gen) * 0.3
            else:
                del w32["bert.embeddings.token_type_embeddings.weight"]
            w = {k: v.double().requires_grad_() for k, v in w32.items()}
            x = encode(family, w, ids, types, pad)
            ref = {"ids": ids.float(), "pad": pad.float()}
            if head == "mlm":
                labels = torch.full((B, T), -100)
                labels[0, 2], labels[0, 6], labels[1, 1] = 3, 7, 11
                hdn = torch.nn.functional.layer_norm(bert.gelu(x @ w["cls.predictions.transform.dense.weight"].T + w["cls.predictions.transform.dense.bias"]),
                                                     (CFG["hidden_size"],), w["cls.predictions.transform.LayerNorm.weight"],
                                                     w["cls.predictions.transform.LayerNorm.bias"], CFG["layer_norm_eps"])
                logits = hdn @ w["bert.embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]
                loss = torch.nn.functional.cross_entropy(logits.view(-1, CFG["vocab_size"]), labels.view(-1), ignore_index=-100)
                ref["labels"] = labels.float()
                arch = {"roberta": "RobertaForMaskedLM", "distilbert": "DistilBertForMaskedLM"}[family]
            else:
                logits = x @ w["qa_outputs.weight"].T + w["qa_outputs.bias"]
                starts, ends = torch.tensor([1, 2]), torch.tensor([4, 5])
                loss = (torch.nn.functional.cross_entropy(logits[..., 0], starts) + torch.nn.functional.cross_entropy(logits[..., 1], ends)) / 2
                ref["starts"], ref["ends"] = starts.float(), ends.float()
                arch = {"roberta": "RobertaForQuestionAnswering", "distilbert": "DistilBertForQuestionAnswering"}[family]
            loss.backward()
            ref["logits"], ref["loss"] = logits, loss.reshape(1)
            for k, v in w.items():
                ref["grad." + rename(family, k)] = v.grad
            d = os.path.join(out, f"{family}_{head}")
            os.makedirs(d, exist_ok=True)
            st.save(os.path.join(d, "model.safetensors"), {rename(family, k): v for k, v in w32.items()}, {"format": "pt"})
            if family == "distilbert":
                c = {"model_type": "distilbert", "architectures": [arch], "vocab_size": CFG["vocab_size"], "dim": CFG["hidden_size"],
                     "n_layers": CFG["num_hidden_layers"], "n_heads": CFG["num_attention_heads"], "hidden_dim": CFG["intermediate_size"],
                     "activation": "gelu", "dropout": 0.0, "attention_dropout": 0.0, "qa_dropout": 0.0,
                     "max_position_embeddings": CFG["max_position_embeddings"], "sinusoidal_pos_embds": False,
                     "initializer_range": 0.02, "pad_token_id": CFG["pad_token_id"]}
            else:
                c = {**CFG, "architectures": [arch]}
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(c, f, indent=2)
            st.save(os.path.join(out, f"{family}_{head}_ref.safetensors"), ref, {"torch": torch.__version__})
            print(family, head, "loss", loss.item())


if __name__ == "__main__":
    main()
