#!/usr/bin/python3
"""Writes the end-to-end fixture of an OPUS-MT directory (pipelines/testdata/opus-mt/).

Run from the repository root with Debian's python3-torch and python3-sentencepiece, after
scripts/reference/marian_tokenizer.py (whose tokenizer it uses):
    /usr/bin/python3 scripts/reference/opus_mt.py

A small MarianMTModel with random weights, laid out as Helsinki-NLP's directories on the hub:
config.json, generation_config.json (bad_words_ids [[pad]], decoder start = pad, forced EOS,
beams), and the weights as pytorch_model.bin (torch.save of the state dict with transformers'
names, the sinusoidal position tables and final_logits_bias included). The tokenizer files are
those of tokenizer/testdata/marian/ (the Go test copies them in). The model is
torch.nn.Transformer (post-LN, SiLU, as Marian's "swish") with a shared embedding scaled by
sqrt(d_model), Marian's sinusoidal positions (sines in the first half, cosines in the second) and
an output tied to the embedding plus final_logits_bias, as modeling_marian.py computes it.

Generation is written from transformers' generate: greedy, and beam search (BeamSearchScorer:
top 2·k candidates, EOS candidates beyond rank k ignored, length_penalty on the length counting
the decoder start token, early_stopping False), with the NoBadWords and ForcedEOS processors.
Source ids and decoded text follow MarianTokenizer (scripts/reference/marian_tokenizer.py).
expected.json: for each German test sentence, the greedy and the beam output ids and texts
(decoded with skip_special_tokens=True).
"""
import json
import math
import os
import sys

import sentencepiece as spm
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bart import Hyps  # noqa: E402  (transformers' BeamHypotheses)

TOK = "tokenizer/testdata/marian"
OUT = "pipelines/testdata/opus-mt"
vocab = json.load(open(os.path.join(TOK, "vocab.json"), encoding="utf-8"))
V, D, H, FFN, N, MAXPOS = len(vocab), 16, 2, 32, 2, 64
PAD, EOS, UNK = vocab["<pad>"], vocab["</s>"], vocab["<unk>"]
GEN = {"bad_words_ids": [[PAD]], "decoder_start_token_id": PAD, "eos_token_id": EOS, "forced_eos_token_id": EOS,
       "max_length": 16, "num_beams": 3, "pad_token_id": PAD}

torch.manual_seed(5)


def sinusoid(n, d):
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(d // 2, dtype=torch.float64)[None, :]
    ang = pos / torch.pow(10000.0, 2 * i / d)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)


el = torch.nn.TransformerEncoderLayer(D, H, FFN, dropout=0.0, activation=F.silu, batch_first=True)
dl = torch.nn.TransformerDecoderLayer(D, H, FFN, dropout=0.0, activation=F.silu, batch_first=True)
tr = torch.nn.Transformer(D, H, N, N, FFN, dropout=0.0, batch_first=True,
                          custom_encoder=torch.nn.TransformerEncoder(el, N, norm=None),
                          custom_decoder=torch.nn.TransformerDecoder(dl, N, norm=None))
emb = torch.nn.Embedding(V, D)
with torch.no_grad():
    for n, p in list(tr.named_parameters()) + list(emb.named_parameters()):
        base = 1.0 if "norm" in n and n.endswith("weight") else 0.0
        p.copy_(base + torch.randn_like(p) * 0.3)
bias = torch.randn(1, V) * 0.1
# The weights as the file holds them (float32), computed in float64.
tr, emb = tr.double(), emb.double()
pe = sinusoid(MAXPOS, D)


def mha(prefix, m):
    w, b = m.in_proj_weight, m.in_proj_bias
    return {prefix + ".q_proj.weight": w[:D], prefix + ".k_proj.weight": w[D:2 * D], prefix + ".v_proj.weight": w[2 * D:],
            prefix + ".q_proj.bias": b[:D], prefix + ".k_proj.bias": b[D:2 * D], prefix + ".v_proj.bias": b[2 * D:],
            prefix + ".out_proj.weight": m.out_proj.weight, prefix + ".out_proj.bias": m.out_proj.bias}


state = {"final_logits_bias": bias, "model.shared.weight": emb.weight,
         "model.encoder.embed_positions.weight": pe, "model.decoder.embed_positions.weight": pe}
for i, l in enumerate(tr.encoder.layers):
    p = f"model.encoder.layers.{i}"
    state.update(mha(p + ".self_attn", l.self_attn))
    state.update({p + ".fc1.weight": l.linear1.weight, p + ".fc1.bias": l.linear1.bias,
                  p + ".fc2.weight": l.linear2.weight, p + ".fc2.bias": l.linear2.bias,
                  p + ".self_attn_layer_norm.weight": l.norm1.weight, p + ".self_attn_layer_norm.bias": l.norm1.bias,
                  p + ".final_layer_norm.weight": l.norm2.weight, p + ".final_layer_norm.bias": l.norm2.bias})
for i, l in enumerate(tr.decoder.layers):
    p = f"model.decoder.layers.{i}"
    state.update(mha(p + ".self_attn", l.self_attn))
    state.update(mha(p + ".encoder_attn", l.multihead_attn))
    state.update({p + ".fc1.weight": l.linear1.weight, p + ".fc1.bias": l.linear1.bias,
                  p + ".fc2.weight": l.linear2.weight, p + ".fc2.bias": l.linear2.bias,
                  p + ".self_attn_layer_norm.weight": l.norm1.weight, p + ".self_attn_layer_norm.bias": l.norm1.bias,
                  p + ".encoder_attn_layer_norm.weight": l.norm2.weight, p + ".encoder_attn_layer_norm.bias": l.norm2.bias,
                  p + ".final_layer_norm.weight": l.norm3.weight, p + ".final_layer_norm.bias": l.norm3.bias})
state["lm_head.weight"] = emb.weight  # tied, as the hub's files hold it
# Round every weight to float32 (what the file holds) and compute with those values.
with torch.no_grad():
    for t in list(tr.parameters()) + list(emb.parameters()):
        t.copy_(t.float().double())
bias64 = bias.double()
os.makedirs(OUT, exist_ok=True)
torch.save({k: v.detach().float().contiguous() for k, v in state.items()}, os.path.join(OUT, "pytorch_model.bin"))
cfg = {"architectures": ["MarianMTModel"], "model_type": "marian", "vocab_size": V, "d_model": D,
       "encoder_layers": N, "decoder_layers": N, "encoder_attention_heads": H, "decoder_attention_heads": H,
       "encoder_ffn_dim": FFN, "decoder_ffn_dim": FFN, "activation_function": "swish", "dropout": 0.1,
       "attention_dropout": 0.0, "activation_dropout": 0.0, "max_position_embeddings": MAXPOS, "scale_embedding": True,
       "static_position_embeddings": True, "normalize_embedding": False, "normalize_before": False,
       "add_final_layer_norm": False, "pad_token_id": PAD, "eos_token_id": EOS, "decoder_start_token_id": PAD,
       "forced_eos_token_id": EOS, "bad_words_ids": [[PAD]], "max_length": 16, "num_beams": 3, "share_encoder_decoder_embeddings": True}
json.dump(cfg, open(os.path.join(OUT, "config.json"), "w"), indent=2)
json.dump(GEN, open(os.path.join(OUT, "generation_config.json"), "w"), indent=2)


# ---- the model ----
def encode(src):
    x = emb(src) * math.sqrt(D) + pe[:src.shape[1]]
    return tr.encoder(x)


def next_logp(memory, seqs):
    tgt = torch.tensor(seqs)
    t = tgt.shape[1]
    y = tr.decoder(emb(tgt) * math.sqrt(D) + pe[:t], memory.expand(len(seqs), -1, -1),
                   tgt_mask=torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1))
    logits = y[:, -1, :] @ emb.weight.T + bias64
    return torch.log_softmax(logits, dim=-1)


def process(scores, cur_len):
    """NoBadWords, then ForcedEOS at the last position (transformers' order)."""
    scores[PAD] = float("-inf")
    if cur_len == GEN["max_length"] - 1:
        scores[:] = float("-inf")
        scores[EOS] = 0
    return scores


def greedy(src):
    memory = encode(src)
    seq = [PAD]
    while len(seq) < GEN["max_length"]:
        tok = int(torch.argmax(process(next_logp(memory, [seq])[0].clone(), len(seq))))
        seq.append(tok)
        if tok == EOS:
            break
    return seq[1:]


def beam(src):
    k = GEN["num_beams"]
    memory = encode(src)
    seqs = [[PAD] for _ in range(k)]
    scores = torch.tensor([0.0] + [-1e9] * (k - 1), dtype=torch.float64)
    hyps = Hyps(k, 1.0, False, GEN["max_length"])
    while True:
        cur_len = len(seqs[0])
        logp = next_logp(memory, seqs)
        flat = torch.stack([process(logp[j].clone(), cur_len) + scores[j] for j in range(k)]).view(-1)
        top, idx = torch.topk(flat, 2 * k)
        nxt = []
        for rank, (s, i) in enumerate(zip(top.tolist(), idx.tolist())):
            j, tok = divmod(i, V)
            if tok == EOS:
                if rank < k:
                    hyps.add(list(seqs[j]), s)
            else:
                nxt.append((s, seqs[j] + [tok]))
            if len(nxt) == k:
                break
        done = hyps.done(max(top.tolist()), cur_len)
        seqs = [x[1] for x in nxt]
        scores = torch.tensor([x[0] for x in nxt], dtype=torch.float64)
        if done:
            break
        if len(seqs[0]) >= GEN["max_length"]:
            for j in range(k):
                hyps.add(list(seqs[j]), scores[j].item())
            break
    best = sorted(hyps.beams, key=lambda x: x[0])[-1][1]
    return best[1:]


# ---- MarianTokenizer ----
src_sp = spm.SentencePieceProcessor(model_file=os.path.join(TOK, "source.spm"))
tgt_sp = spm.SentencePieceProcessor(model_file=os.path.join(TOK, "target.spm"))
decoder = {v: k for k, v in vocab.items()}


def tokenize(text):
    return [vocab.get(p, UNK) for p in src_sp.encode(text, out_type=str)] + [EOS]


def detokenize(ids):
    kept = [i for i in ids if i not in (EOS, PAD, UNK)]  # skip_special_tokens
    return tgt_sp.decode_pieces([decoder[i] for i in kept]).replace("▁", " ").strip()


import gzip  # noqa: E402

with gzip.open("data/multi30k/test_2016_flickr.de.gz", "rt", encoding="utf-8") as f:
    sentences = [l.strip() for _, l in zip(range(12), f)]
rows = []
with torch.no_grad():
    for s in sentences:
        src = torch.tensor([tokenize(s)])
        g, b = greedy(src), beam(src)
        gi = [t for t in g if t != EOS]
        bi = [t for t in b if t != EOS]
        rows.append({"source": s, "greedy_ids": gi, "greedy": detokenize(gi), "beam_ids": bi, "beam": detokenize(bi)})
json.dump({"generation": GEN, "sentences": rows}, open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8"),
          ensure_ascii=False, indent=1)
print("wrote", OUT)
