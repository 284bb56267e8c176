#!/usr/bin/python3
"""Write the PyTorch fixtures for goformer's BART tests.

Usage: /usr/bin/python3 scripts/reference/bart.py  (from the repository root)

A BART model written from transformers' modeling_bart.py (no transformers
needed): a shared embedding scaled by sqrt(d_model) when scale_embedding is
set, learned positions whose table starts 2 rows in (BartLearnedPositional-
Embedding's offset), layernorm_embedding after embeddings + positions in both
stacks, post-LN layers (self-attention, [cross-attention,] feed-forward with
exact GELU, each followed by its layer norm), an output projection tied to the
shared embedding plus final_logits_bias, and BartForConditionalGeneration's
cross-entropy (labels, -100 ignored; here pad is ignored).

Generation is written from transformers' generation code: greedy search and
beam search (BeamSearchScorer/BeamHypotheses: length_penalty divides the sum
of log-probabilities by the hypothesis length ** alpha, where the length
counts the decoder start token but not EOS; early_stopping True/False/"never")
with the logits processors MinLength, NoRepeatNGram, ForcedBOS and ForcedEOS.

Writes models/seq2seq/testdata/bart/ (config.json, model.safetensors, as
save_pretrained lays them out: tied copies left out) and bart_ref.safetensors
(batch, logits, loss, gradients, and the generated sequences).
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

V, D, H, FFN, NE, ND, MAXPOS = 29, 16, 4, 32, 2, 2, 40
BOS, PAD, EOS = 0, 1, 2
B, S, T = 2, 7, 6
OFFSET = 2
PRE_LN = False  # mBART: layer norm before each sub-layer, and after each stack


def layer_norm(x, w, b):
    return F.layer_norm(x, (x.shape[-1],), w, b, 1e-5)


def attention(p, prefix, x, kv, key_pad, causal):
    """BartAttention: q scaled by head_dim ** -0.5, softmax over keys."""
    b, tq, _ = x.shape
    tk = kv.shape[1]
    hd = D // H
    q = (x @ p[prefix + ".q_proj.weight"].T + p[prefix + ".q_proj.bias"]) * hd ** -0.5
    k = kv @ p[prefix + ".k_proj.weight"].T + p[prefix + ".k_proj.bias"]
    v = kv @ p[prefix + ".v_proj.weight"].T + p[prefix + ".v_proj.bias"]
    q = q.view(b, tq, H, hd).transpose(1, 2)
    k = k.view(b, tk, H, hd).transpose(1, 2)
    v = v.view(b, tk, H, hd).transpose(1, 2)
    s = q @ k.transpose(-1, -2)
    mask = torch.zeros(b, 1, tq, tk, dtype=torch.bool)
    if key_pad is not None:
        mask = mask | key_pad[:, None, None, :]
    if causal:
        mask = mask | torch.triu(torch.ones(tq, tk, dtype=torch.bool), diagonal=1)[None, None]
    s = s.masked_fill(mask, float("-inf"))
    o = torch.softmax(s, dim=-1) @ v
    o = o.transpose(1, 2).reshape(b, tq, D)
    return o @ p[prefix + ".out_proj.weight"].T + p[prefix + ".out_proj.bias"]


def ffn(p, prefix, x):
    h = F.gelu(x @ p[prefix + ".fc1.weight"].T + p[prefix + ".fc1.bias"])
    return h @ p[prefix + ".fc2.weight"].T + p[prefix + ".fc2.bias"]


def embed(p, stack, ids, scale):
    t = ids.shape[1]
    x = p["model.shared.weight"][ids] * scale
    pos = p[f"model.{stack}.embed_positions.weight"][torch.arange(t) + OFFSET]
    return layer_norm(x + pos, p[f"model.{stack}.layernorm_embedding.weight"], p[f"model.{stack}.layernorm_embedding.bias"])


def sublayer(p, norm, x, f):
    """Post-LN (BART): LN(x + f(x)); pre-LN (mBART): x + f(LN(x))."""
    w, b = p[norm + ".weight"], p[norm + ".bias"]
    if PRE_LN:
        return x + f(layer_norm(x, w, b))
    return layer_norm(x + f(x), w, b)


def encode(p, src, src_pad, scale):
    x = embed(p, "encoder", src, scale)
    for i in range(NE):
        pre = f"model.encoder.layers.{i}"
        x = sublayer(p, pre + ".self_attn_layer_norm", x, lambda h: attention(p, pre + ".self_attn", h, h, src_pad, False))
        x = sublayer(p, pre + ".final_layer_norm", x, lambda h: ffn(p, pre, h))
    if PRE_LN:
        x = layer_norm(x, p["model.encoder.layer_norm.weight"], p["model.encoder.layer_norm.bias"])
    return x


def decode(p, memory, src_pad, tgt, tgt_pad, scale):
    y = embed(p, "decoder", tgt, scale)
    for i in range(ND):
        pre = f"model.decoder.layers.{i}"
        y = sublayer(p, pre + ".self_attn_layer_norm", y, lambda h: attention(p, pre + ".self_attn", h, h, tgt_pad, True))
        y = sublayer(p, pre + ".encoder_attn_layer_norm", y, lambda h: attention(p, pre + ".encoder_attn", h, memory, src_pad, False))
        y = sublayer(p, pre + ".final_layer_norm", y, lambda h: ffn(p, pre, h))
    if PRE_LN:
        y = layer_norm(y, p["model.decoder.layer_norm.weight"], p["model.decoder.layer_norm.bias"])
    return y @ p["model.shared.weight"].T + p["final_logits_bias"]


def param_shapes():
    shapes = {"model.shared.weight": (V, D), "final_logits_bias": (1, V)}
    for stack, n in (("encoder", NE), ("decoder", ND)):
        shapes[f"model.{stack}.embed_positions.weight"] = (MAXPOS + OFFSET, D)
        shapes[f"model.{stack}.layernorm_embedding.weight"] = (D,)
        shapes[f"model.{stack}.layernorm_embedding.bias"] = (D,)
        for i in range(n):
            pre = f"model.{stack}.layers.{i}"
            attns = ["self_attn"] + (["encoder_attn"] if stack == "decoder" else [])
            for a in attns:
                for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    shapes[f"{pre}.{a}.{proj}.weight"] = (D, D)
                    shapes[f"{pre}.{a}.{proj}.bias"] = (D,)
                shapes[f"{pre}.{a}_layer_norm.weight"] = (D,)
                shapes[f"{pre}.{a}_layer_norm.bias"] = (D,)
            shapes[pre + ".fc1.weight"], shapes[pre + ".fc1.bias"] = (FFN, D), (FFN,)
            shapes[pre + ".fc2.weight"], shapes[pre + ".fc2.bias"] = (D, FFN), (D,)
            shapes[pre + ".final_layer_norm.weight"], shapes[pre + ".final_layer_norm.bias"] = (D,), (D,)
        if PRE_LN:
            shapes[f"model.{stack}.layer_norm.weight"], shapes[f"model.{stack}.layer_norm.bias"] = (D,), (D,)
    return shapes


# ---- generation, as transformers' generate does it ----

def process(scores, tokens, cfg):
    """The logits processors, in transformers' order, on one row's scores
    (a 1-D tensor) given the row's input ids so far (decoder start first)."""
    cur_len = len(tokens)
    if cur_len < cfg["min_length"]:
        scores[EOS] = float("-inf")
    n = cfg["no_repeat_ngram_size"]
    if n > 0 and cur_len + 1 >= n:
        prefix = tokens[cur_len - n + 1:]
        for i in range(cur_len - n + 1):
            if tokens[i:i + n - 1] == prefix:
                scores[tokens[i + n - 1]] = float("-inf")
    if cfg["forced_bos"] is not None and cur_len == 1:
        scores[:] = float("-inf")
        scores[cfg["forced_bos"]] = 0
    if cfg["forced_eos"] is not None and cur_len == cfg["max_length"] - 1:
        scores[:] = float("-inf")
        scores[cfg["forced_eos"]] = 0
    return scores


def next_logits(p, memory, src_pad, seqs, scale):
    tgt = torch.tensor(seqs)
    return decode(p, memory, src_pad, tgt, None, scale)[:, -1, :]


def greedy(p, src_row, pad_row, cfg, scale):
    memory = encode(p, src_row, pad_row, scale)
    seq = [EOS]  # decoder_start_token_id
    while len(seq) < cfg["max_length"]:
        scores = process(next_logits(p, memory, pad_row, [seq], scale)[0].clone(), seq, cfg)
        tok = int(torch.argmax(scores))
        seq.append(tok)
        if tok == EOS:
            break
    return seq


class Hyps:
    def __init__(self, k, alpha, early, max_length):
        self.k, self.alpha, self.early, self.max_length = k, alpha, early, max_length
        self.beams, self.worst = [], 1e9

    def add(self, hyp, logp):
        score = logp / (len(hyp) ** self.alpha)
        if len(self.beams) < self.k or score > self.worst:
            self.beams.append((score, hyp))
            if len(self.beams) > self.k:
                ranked = sorted((s, i) for i, (s, _) in enumerate(self.beams))
                del self.beams[ranked[0][1]]
                self.worst = ranked[1][0]
            else:
                self.worst = min(score, self.worst)

    def done(self, best, cur_len):
        if len(self.beams) < self.k:
            return False
        if self.early is True:
            return True
        if self.early is False:
            return self.worst >= best / cur_len ** self.alpha
        denom = self.max_length if self.alpha > 0 else cur_len
        return self.worst >= best / denom ** self.alpha


def beam(p, src_row, pad_row, cfg, scale):
    k = cfg["num_beams"]
    memory = encode(p, src_row, pad_row, scale).expand(k, -1, -1)
    pads = pad_row.expand(k, -1)
    seqs = [[EOS] for _ in range(k)]
    beam_scores = torch.tensor([0.0] + [-1e9] * (k - 1), dtype=torch.float64)
    hyps = Hyps(k, cfg["length_penalty"], cfg["early_stopping"], cfg["max_length"])
    while True:
        cur_len = len(seqs[0])
        logp = torch.log_softmax(next_logits(p, memory, pads, seqs, scale), dim=-1)
        rows = [process(logp[j].clone(), seqs[j], cfg) + beam_scores[j] for j in range(k)]
        flat = torch.stack(rows).view(-1)
        top, idx = torch.topk(flat, 2 * k)
        nxt = []
        for rank, (s, i) in enumerate(zip(top.tolist(), idx.tolist())):
            j, tok = divmod(i, V)
            if tok == EOS:
                if rank >= k:
                    continue
                hyps.add(list(seqs[j]), s)
            else:
                nxt.append((s, seqs[j] + [tok]))
            if len(nxt) == k:
                break
        done = hyps.done(max(top.tolist()), cur_len)
        seqs = [x[1] for x in nxt]
        beam_scores = torch.tensor([x[0] for x in nxt], dtype=torch.float64)
        if done:
            break
        if len(seqs[0]) >= cfg["max_length"]:
            for j in range(k):
                hyps.add(list(seqs[j]), beam_scores[j].item())
            break
    best = sorted(hyps.beams, key=lambda x: x[0])[-1][1]
    return best


def main():
    torch.manual_seed(21)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    out_dir = os.path.join(root, "models", "seq2seq", "testdata")
    scale = math.sqrt(D)
    p = {}
    for name, shape in param_shapes().items():
        base = 1.0 if "norm" in name and name.endswith("weight") else 0.0
        p[name] = (base + torch.randn(shape) * 0.3).double().requires_grad_(True)
    src = torch.randint(3, V, (B, S))
    src[:, 0] = BOS
    src[0, -1] = EOS
    src[1, -3] = EOS
    src[1, -2:] = PAD
    labels = torch.randint(3, V, (B, T))
    labels[:, 0] = BOS
    labels[0, -1] = EOS
    labels[1, -3] = EOS
    labels[1, -2:] = PAD
    tgt_in = torch.cat([torch.full((B, 1), EOS), labels[:, :-1]], dim=1)  # shift_tokens_right
    tgt_in[1, -1] = PAD
    src_pad, tgt_pad = src == PAD, tgt_in == PAD
    memory = encode(p, src, src_pad, scale)
    logits = decode(p, memory, src_pad, tgt_in, tgt_pad, scale)
    loss = F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=PAD)
    loss.backward()

    ckpt = os.path.join(out_dir, "bart")
    os.makedirs(ckpt, exist_ok=True)
    st.save(os.path.join(ckpt, "model.safetensors"), {k: v.detach().float() for k, v in p.items()}, {"format": "pt"})
    cfg = {"model_type": "bart", "architectures": ["BartForConditionalGeneration"], "vocab_size": V, "d_model": D,
           "encoder_layers": NE, "decoder_layers": ND, "encoder_attention_heads": H, "decoder_attention_heads": H,
           "encoder_ffn_dim": FFN, "decoder_ffn_dim": FFN, "activation_function": "gelu", "dropout": 0.0,
           "attention_dropout": 0.0, "activation_dropout": 0.0, "max_position_embeddings": MAXPOS,
           "scale_embedding": True, "init_std": 0.02, "bos_token_id": BOS, "pad_token_id": PAD, "eos_token_id": EOS,
           "decoder_start_token_id": EOS, "forced_bos_token_id": BOS, "forced_eos_token_id": EOS,
           "is_encoder_decoder": True}
    with open(os.path.join(ckpt, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    ref = {"src": src.float(), "tgt_in": tgt_in.float(), "labels": labels.float(), "src_pad": src_pad.float(),
           "tgt_pad": tgt_pad.float(), "logits": logits.detach(), "loss": loss.detach().reshape(1)}
    for k, v in p.items():
        ref["grad." + k] = v.grad

    # Generation over the two sources (unpadded), with several settings.
    settings = [
        ("greedy", dict(num_beams=1, max_length=12, min_length=0, no_repeat_ngram_size=0, length_penalty=1.0, early_stopping=False)),
        ("greedy_min_norepeat", dict(num_beams=1, max_length=14, min_length=9, no_repeat_ngram_size=2, length_penalty=1.0, early_stopping=False)),
        ("beam4", dict(num_beams=4, max_length=12, min_length=0, no_repeat_ngram_size=0, length_penalty=1.0, early_stopping=False)),
        ("beam3_lp2_early", dict(num_beams=3, max_length=16, min_length=6, no_repeat_ngram_size=3, length_penalty=2.0, early_stopping=True)),
        ("beam5_lp_neg_never", dict(num_beams=5, max_length=10, min_length=0, no_repeat_ngram_size=0, length_penalty=-0.5, early_stopping="never")),
    ]
    meta = {}
    with torch.no_grad():
        for name, g in settings:
            g = dict(g, forced_bos=BOS, forced_eos=EOS)
            outs = []
            for i in range(B):
                n = int((~src_pad[i]).sum())
                row, pad_row = src[i:i + 1, :n], src_pad[i:i + 1, :n]
                seq = greedy(p, row, pad_row, g, scale) if g["num_beams"] == 1 else beam(p, row, pad_row, g, scale)
                outs.append(seq)
            meta[name] = {"config": {k: v for k, v in g.items() if k not in ("forced_bos", "forced_eos")}, "outputs": outs}
            print(name, outs)
    with open(os.path.join(out_dir, "bart_generate.json"), "w") as f:
        json.dump(meta, f, indent=1)
    st.save(os.path.join(out_dir, "bart_ref.safetensors"), ref, {"torch": torch.__version__})
    print("bart loss", loss.item())

    # A checkpoint written by goformer (models/seq2seq: go test -run
    # FromGoformer -update): the names and shapes must be exactly
    # BartForConditionalGeneration's saved state (no tied copies), and the
    # logits this reference computes from it are what goformer must give.
    gdir = os.path.join(out_dir, "bart_from_goformer")
    if os.path.exists(os.path.join(gdir, "model.safetensors")):
        gw = {k: v.double() for k, v in st.load(os.path.join(gdir, "model.safetensors")).items()}
        want = param_shapes()
        assert set(gw) == set(want), (sorted(set(gw) ^ set(want)))
        for k, shape in want.items():
            assert tuple(gw[k].shape) == shape, (k, gw[k].shape, shape)
        with open(os.path.join(gdir, "config.json")) as f:
            gcfg = json.load(f)
        gscale = math.sqrt(D) if gcfg["scale_embedding"] else 1.0
        with torch.no_grad():
            gmem = encode(gw, src, src_pad, gscale)
            glogits = decode(gw, gmem, src_pad, tgt_in, tgt_pad, gscale)
        st.save(os.path.join(out_dir, "bart_from_goformer_ref.safetensors"), {"logits": glogits}, {"torch": torch.__version__})
        print("wrote bart_from_goformer_ref.safetensors")

    # mBART: the same batch through a pre-LN model with final stack norms.
    global PRE_LN
    PRE_LN = True
    p = {}
    for name, shape in param_shapes().items():
        base = 1.0 if "norm" in name and name.endswith("weight") else 0.0
        p[name] = (base + torch.randn(shape) * 0.3).double().requires_grad_(True)
    memory = encode(p, src, src_pad, scale)
    logits = decode(p, memory, src_pad, tgt_in, tgt_pad, scale)
    loss = F.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=PAD)
    loss.backward()
    ckpt = os.path.join(out_dir, "mbart")
    os.makedirs(ckpt, exist_ok=True)
    st.save(os.path.join(ckpt, "model.safetensors"), {k: v.detach().float() for k, v in p.items()}, {"format": "pt"})
    with open(os.path.join(ckpt, "config.json"), "w") as f:
        json.dump(dict(cfg, model_type="mbart", architectures=["MBartForConditionalGeneration"]), f, indent=2)
    ref = {"src": src.float(), "tgt_in": tgt_in.float(), "labels": labels.float(), "src_pad": src_pad.float(),
           "tgt_pad": tgt_pad.float(), "logits": logits.detach(), "loss": loss.detach().reshape(1)}
    for k, v in p.items():
        ref["grad." + k] = v.grad
    st.save(os.path.join(out_dir, "mbart_ref.safetensors"), ref, {"torch": torch.__version__})
    print("mbart loss", loss.item())


if __name__ == "__main__":
    main()
