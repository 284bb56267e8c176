#!/usr/bin/python3
"""Write the PyTorch fixtures for goformer's T5 tests.

Usage: /usr/bin/python3 scripts/reference/t5.py  (from the repository root)

T5 written from transformers' modeling_t5.py (no transformers needed):
T5LayerNorm (x * rsqrt(mean(x^2) + eps) * w, no mean, no bias), pre-norm
blocks with residuals, T5Attention (q, k, v, o without biases, no scaling of
q.k, a relative position bias from the first layer's relative_attention_bias
table shared by the stack: _relative_position_bucket on memory - context
positions, bidirectional in the encoder, causal in the decoder; none in the
cross-attention), DenseReluDense (wi, relu, wo) or DenseGatedActDense
(gelu_new(wi_0 x) * wi_1 x, wo), final_layer_norm per stack, and the output:
tied to shared with the decoder output scaled by d_model ** -0.5 (v1.0), or a
separate lm_head (v1.1 / FLAN-T5). Loss: cross-entropy with pad ignored.

The tokenizer is T5Tokenizer's: the SentencePiece pieces of the text, </s>
appended, <extra_id_N> = sp_size + 99 - N; decoding drops the special tokens
and applies clean_up_tokenization. Generation is transformers' (the greedy
and beam search of bart.py's rendering, with decoder start = pad = 0).

Writes, for the two variants, models/t5/testdata/{t5-small,flan-t5-small}/ laid
out as the hub serves them (config.json with t5-small's / flan-t5-small's
fields at a small size, generation_config.json, spiece.model, tokenizer_config.json,
and the weights: model.safetensors for t5-small, pytorch_model.bin for
flan-t5-small), {name}_ref.safetensors (a batch, logits, loss, every
gradient), {name}_generate.json (ids in, ids out for greedy and beam settings)
and pipelines.json (prompts in, text out, for translate / summarize / answer);
and buckets.json (bucket tables against offsets).
"""
import json
import math
import os
import shutil
import sys

import sentencepiece as spm
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from bart import Hyps  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "models", "t5", "testdata")
SPM = os.path.join(ROOT, "tokenizer", "testdata", "sentencepiece", "unigram_t5like.model")
PAD, EOS, UNK = 0, 1, 2
EXTRA = 100


def bucket(rel, bidirectional, num_buckets, max_distance):
    """_relative_position_bucket, on a LongTensor of memory - context."""
    ret = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        ret += (rel > 0).to(torch.long) * num_buckets
        rel = torch.abs(rel)
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    max_exact = num_buckets // 2
    is_small = rel < max_exact
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return ret + torch.where(is_small, rel, large)


class T5:
    def __init__(self, cfg, p):
        self.c, self.p = cfg, p
        self.H, self.dkv = cfg["num_heads"], cfg["d_kv"]

    def norm(self, x, name):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.p[name + ".weight"] * (x * torch.rsqrt(var + self.c["layer_norm_epsilon"]))

    def bias(self, stack, tq, tk, past):
        table = self.p[f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
        ctx = torch.arange(past, past + tq)[:, None]
        mem = torch.arange(tk)[None, :]
        b = bucket(mem - ctx, stack == "encoder", self.c["relative_attention_num_buckets"],
                   self.c["relative_attention_max_distance"])
        return table[b].permute(2, 0, 1)[None]  # [1, H, tq, tk]

    def attention(self, prefix, x, kv, mask, pos_bias):
        b, tq, _ = x.shape
        tk = kv.shape[1]
        p, H, dkv = self.p, self.H, self.dkv
        q = (x @ p[prefix + ".q.weight"].T).view(b, tq, H, dkv).transpose(1, 2)
        k = (kv @ p[prefix + ".k.weight"].T).view(b, tk, H, dkv).transpose(1, 2)
        v = (kv @ p[prefix + ".v.weight"].T).view(b, tk, H, dkv).transpose(1, 2)
        s = q @ k.transpose(-1, -2)
        if pos_bias is not None:
            s = s + pos_bias
        s = s.masked_fill(mask, float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(b, tq, H * dkv)
        return o @ p[prefix + ".o.weight"].T

    def ff(self, prefix, x):
        p = self.p
        if self.c["feed_forward_proj"] == "gated-gelu":
            a = x @ p[prefix + ".wi_0.weight"].T
            gelu = 0.5 * a * (1 + torch.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))
            h = gelu * (x @ p[prefix + ".wi_1.weight"].T)
        else:
            h = torch.relu(x @ p[prefix + ".wi.weight"].T)
        return h @ p[prefix + ".wo.weight"].T

    def encode(self, src, src_pad):
        x = self.p["shared.weight"][src]
        s = src.shape[1]
        bias = self.bias("encoder", s, s, 0)
        mask = src_pad[:, None, None, :]
        for i in range(self.c["num_layers"]):
            pre = f"encoder.block.{i}.layer"
            x = x + self.attention(pre + ".0.SelfAttention", self.norm(x, pre + ".0.layer_norm"), self.norm(x, pre + ".0.layer_norm"), mask, bias)
            x = x + self.ff(pre + ".1.DenseReluDense", self.norm(x, pre + ".1.layer_norm"))
        return self.norm(x, "encoder.final_layer_norm")

    def decode(self, memory, src_pad, tgt, tgt_pad):
        y = self.p["shared.weight"][tgt]
        t = tgt.shape[1]
        bias = self.bias("decoder", t, t, 0)
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)[None, None]
        if tgt_pad is not None:
            mask = mask | tgt_pad[:, None, None, :]
        cross = src_pad[:, None, None, :]
        for i in range(self.c["num_decoder_layers"]):
            pre = f"decoder.block.{i}.layer"
            h = self.norm(y, pre + ".0.layer_norm")
            y = y + self.attention(pre + ".0.SelfAttention", h, h, mask, bias)
            y = y + self.attention(pre + ".1.EncDecAttention", self.norm(y, pre + ".1.layer_norm"), memory, cross, None)
            y = y + self.ff(pre + ".2.DenseReluDense", self.norm(y, pre + ".2.layer_norm"))
        y = self.norm(y, "decoder.final_layer_norm")
        if self.c["tie_word_embeddings"]:
            return (y * self.c["d_model"] ** -0.5) @ self.p["shared.weight"].T
        return y @ self.p["lm_head.weight"].T


def param_shapes(c):
    D, inner, FF = c["d_model"], c["num_heads"] * c["d_kv"], c["d_ff"]
    shapes = {"shared.weight": (c["vocab_size"], D)}
    for stack, n in (("encoder", c["num_layers"]), ("decoder", c["num_decoder_layers"])):
        for i in range(n):
            pre = f"{stack}.block.{i}.layer"
            attns = [".0.SelfAttention"] + ([".1.EncDecAttention"] if stack == "decoder" else [])
            for j, a in enumerate(attns):
                for w in "qkv":
                    shapes[f"{pre}{a}.{w}.weight"] = (inner, D)
                shapes[f"{pre}{a}.o.weight"] = (D, inner)
                if i == 0 and j == 0:
                    shapes[f"{pre}{a}.relative_attention_bias.weight"] = (c["relative_attention_num_buckets"], c["num_heads"])
                shapes[f"{pre}.{j}.layer_norm.weight"] = (D,)
            f = len(attns)
            if c["feed_forward_proj"] == "gated-gelu":
                shapes[f"{pre}.{f}.DenseReluDense.wi_0.weight"] = (FF, D)
                shapes[f"{pre}.{f}.DenseReluDense.wi_1.weight"] = (FF, D)
            else:
                shapes[f"{pre}.{f}.DenseReluDense.wi.weight"] = (FF, D)
            shapes[f"{pre}.{f}.DenseReluDense.wo.weight"] = (D, FF)
            shapes[f"{pre}.{f}.layer_norm.weight"] = (D,)
        shapes[f"{stack}.final_layer_norm.weight"] = (D,)
    if not c["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (c["vocab_size"], D)
    return shapes


# ---- generation, as transformers' generate does it (decoder start = pad) ----

def process(scores, tokens, g):
    cur_len = len(tokens)
    if cur_len < g["min_length"]:
        scores[EOS] = float("-inf")
    n = g["no_repeat_ngram_size"]
    if n > 0 and cur_len + 1 >= n:
        prefix = tokens[cur_len - n + 1:]
        for i in range(cur_len - n + 1):
            if tokens[i:i + n - 1] == prefix:
                scores[tokens[i + n - 1]] = float("-inf")
    return scores


def greedy(m, src_row, g):
    pad = torch.zeros_like(src_row, dtype=torch.bool)
    memory = m.encode(src_row, pad)
    seq = [PAD]
    while len(seq) < g["max_length"]:
        logits = m.decode(memory, pad, torch.tensor([seq]), None)[0, -1]
        tok = int(torch.argmax(process(logits.clone(), seq, g)))
        seq.append(tok)
        if tok == EOS:
            break
    return seq


def beam(m, src_row, g):
    k, V = g["num_beams"], m.c["vocab_size"]
    pad = torch.zeros_like(src_row, dtype=torch.bool)
    memory = m.encode(src_row, pad).expand(k, -1, -1)
    pads = pad.expand(k, -1)
    seqs = [[PAD] for _ in range(k)]
    beam_scores = torch.tensor([0.0] + [-1e9] * (k - 1), dtype=torch.float64)
    hyps = Hyps(k, g["length_penalty"], g["early_stopping"], g["max_length"])
    while True:
        cur_len = len(seqs[0])
        logp = torch.log_softmax(m.decode(memory, pads, torch.tensor(seqs), None)[:, -1], dim=-1)
        flat = torch.stack([process(logp[j].clone(), seqs[j], g) + beam_scores[j] for j in range(k)]).view(-1)
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
        beam_scores = torch.tensor([x[0] for x in nxt], dtype=torch.float64)
        if done:
            break
        if len(seqs[0]) >= g["max_length"]:
            for j in range(k):
                hyps.add(list(seqs[j]), beam_scores[j].item())
            break
    return sorted(hyps.beams, key=lambda x: x[0])[-1][1]


def generate(m, ids, g):
    row = torch.tensor([ids])
    with torch.no_grad():
        seq = greedy(m, row, g) if g["num_beams"] == 1 else beam(m, row, g)
    seq = seq[1:]
    return seq[:-1] if seq and seq[-1] == EOS else seq


# ---- T5Tokenizer ----

class Tok:
    def __init__(self, path):
        self.sp = spm.SentencePieceProcessor(model_file=path)
        self.n = self.sp.get_piece_size()

    def encode(self, text):
        return [self.sp.piece_to_id(p) for p in self.sp.encode(text, out_type=str)] + [EOS]

    def decode(self, ids):
        kept = [i for i in ids if i not in (PAD, EOS, UNK) and i < self.n]
        s = self.sp.decode(kept)
        for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                     (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
            s = s.replace(a, b)
        return s


def proto_fields(b):
    """The (field, wire type, value) of a protobuf message, for the few
    fields read here (no protobuf package in Debian's python3 here)."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(b, i)
        elif wire == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wire == 5:
            v, i = b[i:i + 4], i + 4
        elif wire == 1:
            v, i = b[i:i + 8], i + 8
        else:
            raise ValueError("wire type %d" % wire)
        yield field, wire, v


def varint(b, i):
    v, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def hf_tokenizer_json(tok):
    """tokenizer.json as transformers' T5Converter (SpmConverter) writes it:
    the Unigram vocabulary with its scores and the sentinels after it, the
    precompiled normalisation map, Metaspace, and the "$A </s>" template."""
    import base64
    with open(SPM, "rb") as f:
        proto = f.read()
    charsmap = b""
    for field, _, v in proto_fields(proto):
        if field == 3:  # normalizer_spec
            for f2, _, v2 in proto_fields(v):
                if f2 == 2:
                    charsmap = v2
    sp = tok.sp
    vocab = [[sp.id_to_piece(i), sp.get_score(i)] for i in range(tok.n)]
    vocab += [[f"<extra_id_{i}>", 0.0] for i in range(EXTRA - 1, -1, -1)]
    added = [{"id": i, "content": sp.id_to_piece(i), "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i in (PAD, EOS, UNK)]
    added += [{"id": tok.n + EXTRA - 1 - i, "content": f"<extra_id_{i}>", "single_word": False, "lstrip": False,
               "rstrip": False, "normalized": False, "special": True} for i in range(EXTRA)]
    meta = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode()},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, meta]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "special_tokens": {"</s>": {"id": "</s>", "ids": [EOS], "tokens": ["</s>"]}}},
        "decoder": meta,
        "model": {"type": "Unigram", "unk_id": UNK, "vocab": vocab, "byte_fallback": False},
    }


def write_tokenizer_json(d, tok):
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(hf_tokenizer_json(tok), f, ensure_ascii=False)


TRANSLATION = {"early_stopping": True, "max_length": 300, "num_beams": 4}
TASKS = {
    "summarization": {"early_stopping": True, "length_penalty": 2.0, "max_length": 200, "min_length": 30,
                      "no_repeat_ngram_size": 3, "num_beams": 4, "prefix": "summarize: "},
    "translation_en_to_de": dict(TRANSLATION, prefix="translate English to German: "),
    "translation_en_to_fr": dict(TRANSLATION, prefix="translate English to French: "),
    "translation_en_to_ro": dict(TRANSLATION, prefix="translate English to Romanian: "),
}


def config(name, vocab):
    """t5-small's and flan-t5-small's config.json fields, at a test size."""
    if name == "t5-small":
        return {"architectures": ["T5ForConditionalGeneration"], "d_ff": 48, "d_kv": 8, "d_model": 32,
                "decoder_start_token_id": 0, "dropout_rate": 0.1, "eos_token_id": 1, "feed_forward_proj": "relu",
                "initializer_factor": 1.0, "is_encoder_decoder": True, "layer_norm_epsilon": 1e-06, "model_type": "t5",
                "n_positions": 512, "num_decoder_layers": 2, "num_heads": 4, "num_layers": 2, "output_past": True,
                "pad_token_id": 0, "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
                "task_specific_params": TASKS, "vocab_size": vocab, "tie_word_embeddings": True}
    return {"architectures": ["T5ForConditionalGeneration"], "d_ff": 40, "d_kv": 6, "d_model": 24,
            "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "dropout_rate": 0.1, "eos_token_id": 1,
            "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0, "is_encoder_decoder": True,
            "is_gated_act": True, "layer_norm_epsilon": 1e-06, "model_type": "t5", "n_positions": 512,
            "num_decoder_layers": 3, "num_heads": 5, "num_layers": 2, "output_past": True, "pad_token_id": 0,
            "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
            "task_specific_params": TASKS, "tie_word_embeddings": False, "vocab_size": vocab}


PROMPTS = {
    "translate": ["A man is riding a bicycle down the street.", "Two dogs play in the snow."],
    "summarize": ["apt is the command-line tool to install, upgrade and remove packages. It resolves "
                  "dependencies and downloads archives from the configured repositories."],
    "answer": [("What does apt do?", "apt installs, upgrades and removes packages on Debian systems.")],
}


def main():
    torch.manual_seed(55)
    tok = Tok(SPM)
    vocab = ((tok.n + EXTRA + 127) // 128) * 128  # padded as t5's 32128 is
    buckets = {}
    offsets = list(range(-300, 301))
    for nb, md in ((32, 128), (8, 12), (6, 20)):
        for bidi in (True, False):
            b = bucket(torch.tensor(offsets), bidi, nb, md).tolist()
            buckets[f"{nb}_{md}_{'bi' if bidi else 'causal'}"] = b
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "buckets.json"), "w") as f:
        json.dump({"offsets": offsets, "buckets": buckets}, f)
    pipes = {}
    for name in ("t5-small", "flan-t5-small"):
        c = config(name, vocab)
        p = {}
        for pname, shape in param_shapes(c).items():
            base = 1.0 if "layer_norm" in pname else 0.0
            std = 1.0 if pname in ("shared.weight", "lm_head.weight") or "relative_attention_bias" in pname else 0.3
            p[pname] = (base + torch.randn(shape) * std).double().requires_grad_(True)
        m = T5(c, p)
        B, S, T = 2, 13, 11
        src = torch.randint(3, tok.n, (B, S))
        src[0, -1] = EOS
        src[1, -4] = EOS
        src[1, -3:] = PAD
        labels = torch.randint(3, tok.n, (B, T))
        labels[0, -1] = EOS
        labels[1, -3] = EOS
        labels[1, -2:] = PAD
        tgt_in = torch.cat([torch.full((B, 1), PAD), labels[:, :-1]], dim=1)  # _shift_right
        src_pad = src == PAD
        tgt_pad = torch.zeros_like(tgt_in, dtype=torch.bool)
        tgt_pad[1, -1] = True  # the padded label's input
        memory = m.encode(src, src_pad)
        logits = m.decode(memory, src_pad, tgt_in, tgt_pad)
        loss = F.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=PAD)
        loss.backward()
        ref = {"src": src.float(), "tgt_in": tgt_in.float(), "labels": labels.float(), "src_pad": src_pad.float(),
               "tgt_pad": tgt_pad.float(), "logits": logits.detach(), "loss": loss.detach().reshape(1)}
        for k, v in p.items():
            ref["grad." + k] = v.grad
        st.save(os.path.join(OUT, name + "_ref.safetensors"), ref, {"torch": torch.__version__})

        d = os.path.join(OUT, name)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        w = {k: v.detach().float() for k, v in p.items()}
        if name == "t5-small":
            st.save(os.path.join(d, "model.safetensors"), w, {"format": "pt"})
        else:  # as the hub's pytorch_model.bin: tied embedding copies included
            w["encoder.embed_tokens.weight"] = w["shared.weight"]
            w["decoder.embed_tokens.weight"] = w["shared.weight"]
            torch.save(w, os.path.join(d, "pytorch_model.bin"))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(c, f, indent=2)
        with open(os.path.join(d, "generation_config.json"), "w") as f:
            json.dump({"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0}, f, indent=2)
        shutil.copy(SPM, os.path.join(d, "spiece.model"))
        write_tokenizer_json(d, tok)
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "extra_ids": EXTRA,
                       "model_max_length": 512, "tokenizer_class": "T5Tokenizer"}, f, indent=2)

        settings = {
            "greedy": dict(num_beams=1, max_length=12, min_length=0, no_repeat_ngram_size=0, length_penalty=1.0, early_stopping=False),
            "greedy_min_norepeat": dict(num_beams=1, max_length=15, min_length=9, no_repeat_ngram_size=2, length_penalty=1.0, early_stopping=False),
            "beam4": dict(num_beams=4, max_length=12, min_length=0, no_repeat_ngram_size=0, length_penalty=1.0, early_stopping=False),
            "beam3_lp2_early": dict(num_beams=3, max_length=16, min_length=6, no_repeat_ngram_size=3, length_penalty=2.0, early_stopping=True),
        }
        gens = {}
        for sname, g in settings.items():
            ins = [[int(x) for x in src[i][~src_pad[i]]] for i in range(B)]
            gens[sname] = {"config": g, "inputs": ins, "outputs": [generate(m, x, g) for x in ins]}
        with open(os.path.join(OUT, name + "_generate.json"), "w") as f:
            json.dump(gens, f, indent=1)

        # The pipelines: prefix from task_specific_params, generation settings
        # from generation_config.json then the task's, text out.
        base = dict(num_beams=1, max_length=20, min_length=0, no_repeat_ngram_size=0, length_penalty=1.0, early_stopping=False)
        out = {}
        tr = dict(base, **{k: v for k, v in TASKS["translation_en_to_de"].items() if k != "prefix"})
        out["translate"] = [tok.decode(generate(m, tok.encode(TASKS["translation_en_to_de"]["prefix"] + x), tr))
                            for x in PROMPTS["translate"]]
        sm = dict(base, **{k: v for k, v in TASKS["summarization"].items() if k != "prefix"})
        out["summarize"] = [tok.decode(generate(m, tok.encode("summarize: " + x), sm)) for x in PROMPTS["summarize"]]
        out["answer"] = [tok.decode(generate(m, tok.encode(f"question: {q} context: {ctx}"), base))
                         for q, ctx in PROMPTS["answer"]]
        pipes[name] = out
        print(name, "loss", loss.item(), out)
    with open(os.path.join(OUT, "pipelines.json"), "w") as f:
        json.dump({"prompts": PROMPTS, "outputs": pipes}, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
