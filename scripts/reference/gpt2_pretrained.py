#!/usr/bin/env python3
"""Write a GPT-2 directory laid out as transformers' save_pretrained writes
it, with random weights, and what PyTorch says of it.

Usage: /usr/bin/python3 scripts/reference/gpt2_pretrained.py  (from the repository root)

Writes cmd/goformer/testdata/gpt2-pretrained/:
  config.json, generation_config.json   every field GPT2Config.save_pretrained writes
  model.safetensors                     GPT2LMHeadModel's state dict: "transformer." names,
                                        Conv1D weights [in, out], lm_head left out (tied)
  vocab.json, merges.txt                GPT-2's real BPE files (a token → id map)
  tokenizer_config.json, special_tokens_map.json
and cmd/goformer/testdata/gpt2-pretrained-ref.json: the mean next-token
cross-entropy of eval.txt read in consecutive windows of n_positions tokens
(goformer eval's definition), and the greedy continuation of a prompt, both
computed in float64 by the GPT-2 of scripts/reference/gpt.py. The text is
tokenized here by GPT-2's own algorithm (OpenAI's encoder.py: byte-to-unicode
map, then merges by rank); the texts are ASCII, for which its \\p{L}/\\p{N}
pattern is the one below.
"""
import json
import os
import re
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from gpt import forward, params  # noqa: E402

CFG = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
       "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
       "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_embd": 8, "n_head": 2, "n_inner": None,
       "n_layer": 2, "n_positions": 32, "reorder_and_upcast_attn": False, "resid_pdrop": 0.1,
       "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True, "summary_activation": None,
       "summary_first_dropout": 0.1, "summary_proj_to_labels": True, "summary_type": "cls_index",
       "summary_use_proj": True, "torch_dtype": "float32", "transformers_version": "4.46.3",
       "use_cache": True, "vocab_size": 50257}
EVAL = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
        "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n"
        "First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n")
PROMPT = "ROMEO: But soft, what light"
NEW = 12


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Encoder:
    def __init__(self, vocab, merges):
        self.vocab, self.ranks = vocab, {tuple(m.split()): i for i, m in enumerate(merges)}
        self.b2u = bytes_to_unicode()
        self.u2b = {v: k for k, v in self.b2u.items()}
        self.inv = {v: k for k, v in vocab.items()}
        self.pat = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")

    def bpe(self, word):
        word = list(word)
        while len(word) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(word, word[1:]))]
            rank, _ = min(pairs)
            if rank == 1 << 30:
                break
            first, second = [p for p, r in self.ranks.items() if r == rank][0]
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == first and word[i + 1] == second:
                    out.append(first + second)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        return word

    def encode(self, text):
        assert text.isascii()
        ids = []
        for piece in self.pat.findall(text):
            ids += [self.vocab[t] for t in self.bpe("".join(self.b2u[b] for b in piece.encode()))]
        return ids

    def decode(self, ids):
        return bytes(self.u2b[c] for c in "".join(self.inv[i] for i in ids)).decode()


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    out = os.path.join(root, "cmd", "goformer", "testdata", "gpt2-pretrained")
    os.makedirs(out, exist_ok=True)
    src = os.path.join(root, "tokenizer", "testdata", "gpt2")
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(src, f), os.path.join(out, f))
    with open(os.path.join(src, "vocab.json")) as f:
        vocab = json.load(f)
    with open(os.path.join(src, "merges.txt")) as f:
        merges = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#version")]
    enc = Encoder(vocab, merges)

    gen = torch.Generator().manual_seed(7)
    w32 = params(CFG, gen)
    sd = {"transformer." + k: v for k, v in w32.items()}
    for i in range(CFG["n_layer"]):  # GPT2LMHeadModel's causal-mask buffers, as older files carry them
        n = CFG["n_positions"]
        sd[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(n, n)).view(1, 1, n, n)
    st.save(os.path.join(out, "model.safetensors"), sd, {"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CFG, f, indent=2, sort_keys=True)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"_from_model_config": True, "bos_token_id": 50256, "eos_token_id": 50256, "transformers_version": "4.46.3"}, f, indent=2)
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}, f, indent=2)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"add_prefix_space": False, "bos_token": "<|endoftext|>", "clean_up_tokenization_spaces": False,
                   "eos_token": "<|endoftext|>", "model_max_length": 1024, "tokenizer_class": "GPT2Tokenizer",
                   "unk_token": "<|endoftext|>"}, f, indent=2)
    with open(os.path.join(root, "cmd", "goformer", "testdata", "gpt2-eval.txt"), "w") as f:
        f.write(EVAL)

    w = {k: v.double() for k, v in w32.items()}
    ids = enc.encode(EVAL)
    ctx = CFG["n_positions"]
    total, count = 0.0, 0
    for start in range(0, len(ids) - 1, ctx):
        n = min(ctx, len(ids) - 1 - start)
        x = torch.tensor([ids[start:start + n]])
        y = torch.tensor([ids[start + 1:start + 1 + n]])
        _, loss = forward(CFG, w, x, y)
        total += loss.item() * n
        count += n
    seq = enc.encode(PROMPT)
    for _ in range(NEW):
        x = torch.tensor([seq])
        logits, _ = forward(CFG, w, x, x)
        seq.append(int(logits[0, -1].argmax()))
    cont = seq[len(enc.encode(PROMPT)):]
    ref = {"cross_entropy": total / count, "tokens": count, "prompt": PROMPT, "new_tokens": NEW,
           "greedy_ids": cont, "greedy_text": enc.decode(cont), "torch": torch.__version__}
    with open(os.path.join(root, "cmd", "goformer", "testdata", "gpt2-pretrained-ref.json"), "w") as f:
        json.dump(ref, f, indent=2)
    print(json.dumps(ref))


if __name__ == "__main__":
    main()
