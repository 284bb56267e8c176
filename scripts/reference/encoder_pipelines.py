#!/usr/bin/python3
"""Write the reference outputs of goformer's encoder pipelines.

Usage: /usr/bin/python3 scripts/reference/encoder_pipelines.py  (from the repository
root, after encoder_heads.py wrote pipelines/testdata/encoders/)

Written from the code of sentence-transformers (Transformer → Pooling →
Normalize; encode) and of transformers' pipelines (text-classification,
token-classification with its aggregation strategies, zero-shot-
classification) and CrossEncoder.predict, on the models of
pipelines/testdata/encoders/, with their tokenizer written out here as
BERT's: BasicTokenizer (clean-up, lower-casing, accent stripping,
punctuation split) and greedy longest-match WordPiece, with character
offsets. Writes pipelines/testdata/encoder_pipelines.json.
"""
import json
import math
import os
import sys
import unicodedata

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import encoder_heads as eh  # noqa: E402
import st  # noqa: E402

DIR = os.path.join(eh.ROOT, "pipelines", "testdata", "encoders")
VOCAB = {t: i for i, t in enumerate(eh.VOCAB)}


def is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def tokenize(text):
    """BERT's BasicTokenizer + WordPiece: [(id, token, start, end)] in characters."""
    words, cur, start = [], "", 0
    for i, ch in enumerate(text):
        if ch.isspace():
            if cur:
                words.append((cur, start))
            cur = ""
        elif is_punct(ch):
            if cur:
                words.append((cur, start))
            words.append((ch, i))
            cur = ""
        else:
            if not cur:
                start = i
            cur += ch
    if cur:
        words.append((cur, start))
    out = []
    for w, s in words:
        norm = "".join(c for c in unicodedata.normalize("NFD", w.lower()) if unicodedata.category(c) != "Mn")
        pieces, i = [], 0
        while i < len(norm):
            j = len(norm)
            while j > i:
                sub = norm[i:j] if i == 0 else "##" + norm[i:j]
                if sub in VOCAB:
                    break
                j -= 1
            if j == i:
                pieces = None
                break
            pieces.append((VOCAB[sub], sub, s + i, s + j))
            i = j
        out.extend(pieces if pieces is not None else [(VOCAB["[UNK]"], "[UNK]", s, s + len(w))])
    return out


def single(text, max_len):
    toks = tokenize(text)[:max_len - 2]
    return [VOCAB["[CLS]"]] + [t[0] for t in toks] + [VOCAB["[SEP]"]], toks


def pair(a, b, max_len, only_first=False):
    ta, tb = tokenize(a), tokenize(b)
    na, nb = len(ta), len(tb)
    if only_first:
        na = min(na, max_len - 3 - nb)
    while na + nb > max_len - 3:
        if na > nb:
            na -= 1
        else:
            nb -= 1
    ids = [VOCAB["[CLS]"]] + [t[0] for t in ta[:na]] + [VOCAB["[SEP]"]] + [t[0] for t in tb[:nb]] + [VOCAB["[SEP]"]]
    types = [0] * (na + 2) + [1] * (nb + 1)
    return ids, types


def load(name):
    d = os.path.join(DIR, name)
    w = {k: v.double() for k, v in st.load(os.path.join(d, "model.safetensors")).items()}
    w = {("bert." + k if k.startswith(("embeddings.", "encoder.", "pooler.")) else k): v for k, v in w.items()}
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    return w, cfg


def hidden(w, cfg, rows, types=None, family="bert"):
    """The encoder on a right-padded batch; returns (x, mask)."""
    T = max(len(r) for r in rows)
    p = cfg["pad_token_id"]
    ids = torch.tensor([r + [p] * (T - len(r)) for r in rows])
    ty = torch.tensor([t + [0] * (T - len(t)) for t in types]) if types else torch.zeros_like(ids)
    pad = torch.tensor([[j >= len(r) for j in range(T)] for r in rows])
    return eh.encode(cfg, family, w, ids, ty, pad), (~pad).double()


def xlmr_single(text, max_len, sp):
    """XLMRobertaTokenizer: <s> pieces </s>, piece i at id i + 1 (the unknown piece at 3), cut to max_len."""
    ids = [sp.piece_to_id(p) for p in sp.encode(text, out_type=str)]
    ids = [i + 1 if i != sp.unk_id() else 3 for i in ids][:max_len - 2]
    return [0] + ids + [2]


def embeddings(name, texts):
    w, cfg = load(name)
    family = cfg["model_type"]
    d = os.path.join(DIR, name)
    sb = json.load(open(os.path.join(d, "sentence_bert_config.json")))
    pc = json.load(open(os.path.join(d, "1_Pooling", "config.json")))
    normalize = os.path.isdir(os.path.join(d, "2_Normalize"))
    orig = texts
    if sb.get("do_lower_case"):
        texts = [t.lower() for t in texts]
    if family == "xlm-roberta":
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "sentencepiece.bpe.model"))
        rows = [xlmr_single(t, sb["max_seq_length"], sp) for t in texts]
        w = {("bert." + k[len("roberta."):] if k.startswith("roberta.") else k): v for k, v in w.items()}
    else:
        rows = [single(t, sb["max_seq_length"])[0] for t in texts]
    x, mask = hidden(w, cfg, rows, family=family)
    m = mask.unsqueeze(-1)
    parts = []
    if pc["pooling_mode_cls_token"]:
        parts.append(x[:, 0])
    if pc["pooling_mode_max_tokens"]:
        parts.append(torch.max(x.masked_fill(m == 0, -1e9), 1)[0])
    if pc["pooling_mode_mean_tokens"]:
        parts.append((x * m).sum(1) / torch.clamp(m.sum(1), min=1e-9))
    e = torch.cat(parts, 1)
    if normalize:
        e = torch.nn.functional.normalize(e, p=2, dim=1)
    return {"texts": orig, "ids": rows, "vectors": e.tolist()}


def seq_logits(name, rows, types=None):
    w, cfg = load(name)
    x, _ = hidden(w, cfg, rows, types)
    return eh.logits_of("bert", "seqcls", w, x).numpy(), cfg


def softmax(v):
    e = np.exp(v - v.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def classify(name, texts):
    rows = [single(t, 32)[0] for t in texts]
    logits, cfg = seq_logits(name, rows)
    labels = [cfg["id2label"][str(i)] for i in range(len(cfg["id2label"]))]
    pt = cfg.get("problem_type")
    if pt == "multi_label_classification" or len(labels) == 1:
        s = 1 / (1 + np.exp(-logits))
    else:
        s = softmax(logits)
    out = []
    for row in s:
        order = sorted(range(len(labels)), key=lambda i: -row[i])
        out.append([{"label": labels[i], "score": float(row[i])} for i in order])
    return out


def rerank(query, docs):
    rows, types = zip(*[pair(query, d, 32) for d in docs])
    logits, _ = seq_logits("reranker", list(rows), list(types))
    s = 1 / (1 + np.exp(-logits[:, 0]))
    order = sorted(range(len(docs)), key=lambda i: -s[i])
    return [{"index": i, "document": docs[i], "score": float(s[i])} for i in order]


def zero_shot(text, labels, template, multi):
    rows, types = zip(*[pair(text, template.replace("{}", l, 1), 32, only_first=True) for l in labels])
    logits, cfg = seq_logits("nli", list(rows), list(types))
    ent = next((i for l, i in cfg["label2id"].items() if l.lower().startswith("entail")), -1)
    r = logits.reshape(1, len(labels), -1)
    if multi or len(labels) == 1:
        contra = -1 if ent == 0 else 0
        ec = r[..., [contra, ent]]
        s = (np.exp(ec) / np.exp(ec).sum(-1, keepdims=True))[..., 1]
    else:
        el = r[..., ent]
        s = np.exp(el) / np.exp(el).sum(-1, keepdims=True)
    top = list(reversed(s[0].argsort()))
    return [{"label": labels[i], "score": float(s[0, i])} for i in top]


def join_tokens(tokens):
    """The WordPiece decoder with clean-up (convert_tokens_to_string)."""
    out = []
    for i, t in enumerate(tokens):
        if i != 0:
            t = t[2:] if t.startswith("##") else " " + t
        for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                     (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
            t = t.replace(a, b)
        out.append(t)
    return "".join(out)


def get_tag(name):
    if name.startswith("B-"):
        return "B", name[2:]
    if name.startswith("I-"):
        return "I", name[2:]
    return "I", name


class ByteBPE:
    """The byte-level BPE of a tokenizer.json (GPT-2's split, merges by rank), with RoBERTa's
    trim_offsets: a token's span leaves out the space it starts with."""

    def __init__(self, path):
        t = json.load(open(path))
        self.vocab = t["model"]["vocab"]
        self.ranks = {tuple(m.split(" ")): i for i, m in enumerate(t["model"]["merges"])}
        self.b2u = eh.bytes_to_unicode()
        self.u2b = {c: b for b, c in self.b2u.items()}
        self.tokens = {i: s for s, i in self.vocab.items()}

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            r, i = min(pairs)
            if r == 1 << 30:
                break
            parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2:]
        return parts

    def encode(self, text):
        """[(id, token, start, end)] in characters (ASCII text: a byte is a character)."""
        import regex
        out, at = [], 0
        for m in regex.finditer(eh.GPT2_SPLIT, text):
            w = "".join(self.b2u[b] for b in m.group().encode())
            pos = m.start()
            for p in self.bpe(w):
                s, e = pos, pos + len(p)
                while s < e - 1 and text[s] == " ":
                    s += 1
                out.append((self.vocab[p], p, s, e))
                pos = e
        return out

    def join(self, tokens):
        """The ByteLevel decoder: a token's characters as bytes, or its own bytes if one is not a byte's."""
        buf = b""
        for t in tokens:
            try:
                buf += bytes(self.u2b[c] for c in t)
            except KeyError:
                buf += t.encode()
        return buf.decode("utf-8", errors="replace")


def ner(text, strategy, name="ner"):
    w, cfg = load(name)
    roberta = cfg["model_type"] == "roberta"
    if roberta:
        bpe = ByteBPE(os.path.join(DIR, name, "tokenizer.json"))
        toks = bpe.encode(text)[:32 - 2]
        ids = [0] + [t[0] for t in toks] + [2]
        w = {("bert." + k[len("roberta."):] if k.startswith("roberta.") else k): v for k, v in w.items()}
        join = bpe.join
    else:
        ids, toks = single(text, 32)
        join = join_tokens
    x, _ = hidden(w, cfg, [ids], family=cfg["model_type"])
    logits = eh.logits_of(cfg["model_type"], "tokcls", w, x)[0].numpy()
    scores = softmax(logits)
    id2label = cfg["id2label"]
    pre = []
    for k, (tid, tok, s, e) in enumerate(toks):
        idx = k + 1  # after [CLS] / <s>
        word, ref = tok, text[s:e]
        if roberta:  # no continuing_subword_prefix: the heuristic on the text
            is_sub = s > 0 and " " not in text[s - 1:s + 1]
        else:
            is_sub = len(word) != len(ref)
        if not roberta and tid == VOCAB["[UNK]"]:
            word, is_sub = ref, False
        pre.append({"word": word, "scores": scores[idx], "start": s, "end": e, "index": idx, "is_subword": is_sub})
    if strategy in ("none", "simple"):
        ents = []
        for p in pre:
            i = int(p["scores"].argmax())
            ents.append({"entity": id2label[str(i)], "score": float(p["scores"][i]), "index": p["index"], "word": p["word"],
                         "start": p["start"], "end": p["end"]})
    else:
        def agg(group):
            word = join([g["word"] for g in group])
            if strategy == "first":
                sc = group[0]["scores"]
            elif strategy == "max":
                sc = max(group, key=lambda g: g["scores"].max())["scores"]
            else:
                sc = np.nanmean(np.stack([g["scores"] for g in group]), axis=0)
            i = int(sc.argmax())
            return {"entity": id2label[str(i)], "score": float(sc[i]), "word": word, "start": group[0]["start"], "end": group[-1]["end"]}
        ents, group = [], None
        for p in pre:
            if group is None:
                group = [p]
            elif p["is_subword"]:
                group.append(p)
            else:
                ents.append(agg(group))
                group = [p]
        if group is not None:
            ents.append(agg(group))
    if strategy != "none":
        def sub(es):
            return {"entity_group": es[0]["entity"].split("-", 1)[-1], "score": float(np.mean(np.nanmean([e["score"] for e in es]))),
                    "word": join([e["word"] for e in es]), "start": es[0]["start"], "end": es[-1]["end"]}
        groups, cur = [], []
        for e in ents:
            if not cur:
                cur.append(e)
                continue
            bi, tag = get_tag(e["entity"])
            _, last = get_tag(cur[-1]["entity"])
            if tag == last and bi != "B":
                cur.append(e)
            else:
                groups.append(sub(cur))
                cur = [e]
        if cur:
            groups.append(sub(cur))
        ents = groups
    return [e for e in ents if e.get("entity") not in ("O",) and e.get("entity_group") not in ("O",)]


def main():
    texts = ["How do I install a Python package?", "A fast web server.", "John Smith lives in Paris.", "Unbelievable game!",
             "The movie was terrible, the film was great and the game was good and the team won the vote in the city of London.",
             "zzz qqq"]
    out = {"texts": texts}
    for name in ("st-mean", "st-cls", "st-maxmean"):
        out[name] = embeddings(name, texts)
    out["st-xlmr"] = embeddings("st-xlmr", texts + ["Grüße aus Köln, ça va très bien!", "Ünïcödé façade naïve café"])
    out["sentiment"] = classify("sentiment", texts)
    out["topics"] = classify("topics", texts)
    q = "how do I install a python package"
    docs = ["python package tool", "bake bread", "a web server for python", "the election vote", "install python"]
    out["rerank"] = {"query": q, "documents": docs, "ranked": rerank(q, docs)}
    zs = "The team won the game at the city."
    out["zero_shot"] = [{"text": zs, "labels": ["sports", "politics", "cooking"], "template": tpl, "multi_label": multi,
                         "scores": zero_shot(zs, ["sports", "politics", "cooking"], tpl, multi)}
                        for tpl in ("This example is {}.", "This is about {}.") for multi in (False, True)]
    ner_texts = ["John Smith lives in New York City and works in Berlin.", "mary played in paris, london and berlin!",
                 "Unbelievable: the SSL library libssl compression."]
    out["ner"] = [{"model": m, "text": t, "aggregation": s, "entities": ner(t, s, m)} for m in ("ner", "ner-roberta")
                  for t in ner_texts for s in ("none", "simple", "first", "average", "max")]
    with open(os.path.join(eh.ROOT, "pipelines", "testdata", "encoder_pipelines.json"), "w") as f:
        json.dump(out, f, indent=1)
    print("wrote encoder_pipelines.json;", sum(len(n["entities"]) for n in out["ner"]), "entities")


if __name__ == "__main__":
    main()
