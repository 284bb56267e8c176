#!/usr/bin/python3
"""Write the PyTorch fixtures of goformer's classification heads and of the
encoder pipelines' models.

Usage: /usr/bin/python3 scripts/reference/encoder_heads.py  (from the repository root)

The encoder of bert.py / bert_families.py (BERT, RoBERTa, XLM-RoBERTa,
DistilBERT) with the heads of transformers' modeling code:
  - BertForSequenceClassification: pooler (dense + tanh on [CLS]), dropout,
    classifier; RobertaForSequenceClassification (and XLM-R's):
    RobertaClassificationHead, <s> → dropout → dense → tanh → dropout →
    out_proj; DistilBertForSequenceClassification: [CLS] → pre_classifier →
    ReLU → dropout → classifier. Loss: cross-entropy (single-label).
  - …ForTokenClassification: dropout → classifier on every token; loss:
    cross-entropy over the labelled tokens (-100 ignored).
For each family and head writes models/bert/testdata/<family>_<head>/
(config.json with id2label/label2id, model.safetensors) and
<family>_<head>_ref.safetensors (batch, logits, loss, gradients), and
models/bert/testdata/bert_base_ref.safetensors (BertModel's hidden states,
read from the bert_seqcls checkpoint's encoder).

Then the models of the pipeline tests, in pipelines/testdata/encoders/, each
a hub-layout directory with a WordPiece tokenizer.json (BERT's normalizer,
pre-tokenizer, template) over a small English vocabulary: three
sentence-transformers directories (mean pooling + Normalize; CLS pooling;
max + mean pooling, lower-cased by sentence_bert_config.json), a sentiment
classifier, a multi-label classifier, an NER tagger (BIO labels), an NLI
model (contradiction, neutral, entailment) and a one-logit cross-encoder.
scripts/reference/encoder_pipelines.py computes the pipelines' outputs.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CFG = {"vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
       "intermediate_size": 32, "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
       "max_position_embeddings": 24, "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
       "pad_token_id": 0}


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def encoder_params(cfg, family, gen):
    """BERT names (bert.…) for every family; rename() maps them."""
    h, v, i = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    r = lambda *s: torch.randn(*s, generator=gen) * 0.3
    ln = lambda p: {p + ".weight": 1 + r(h) / 3, p + ".bias": r(h) / 3}
    w = {"bert.embeddings.word_embeddings.weight": r(v, h), "bert.embeddings.position_embeddings.weight": r(cfg["max_position_embeddings"], h)}
    if family != "distilbert":
        w["bert.embeddings.token_type_embeddings.weight"] = r(cfg["type_vocab_size"], h)
    w.update(ln("bert.embeddings.LayerNorm"))
    for l in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{l}."
        for n, (o, ii) in {"attention.self.query": (h, h), "attention.self.key": (h, h), "attention.self.value": (h, h),
                           "attention.output.dense": (h, h), "intermediate.dense": (i, h), "output.dense": (h, i)}.items():
            w[p + n + ".weight"], w[p + n + ".bias"] = r(o, ii), r(o)
        w.update(ln(p + "attention.output.LayerNorm"))
        w.update(ln(p + "output.LayerNorm"))
    return w


def head_params(cfg, family, head, labels, gen):
    h = cfg["hidden_size"]
    r = lambda *s: torch.randn(*s, generator=gen) * 0.3
    if head == "tokcls":
        return {"classifier.weight": r(labels, h), "classifier.bias": r(labels)}
    dense = {"bert": "bert.pooler.dense", "distilbert": "pre_classifier"}.get(family, "classifier.dense")
    out = "classifier.out_proj" if family in ("roberta", "xlm-roberta") else "classifier"
    return {dense + ".weight": r(h, h), dense + ".bias": r(h), out + ".weight": r(labels, h), out + ".bias": r(labels)}


def rename(family, key):
    """A BERT parameter name → the family's."""
    if family in ("roberta", "xlm-roberta"):
        return key.replace("bert.", "roberta.", 1) if key.startswith("bert.") else key
    if family == "bert":
        return key
    key = key.replace("bert.embeddings.", "distilbert.embeddings.").replace("bert.encoder.layer.", "distilbert.transformer.layer.")
    for a, b in (("attention.self.query", "attention.q_lin"), ("attention.self.key", "attention.k_lin"),
                 ("attention.self.value", "attention.v_lin"), ("attention.output.dense", "attention.out_lin"),
                 ("attention.output.LayerNorm", "sa_layer_norm"), ("intermediate.dense", "ffn.lin1"),
                 ("output.dense", "ffn.lin2"), ("output.LayerNorm", "output_layer_norm")):
        key = key.replace(a, b)
    return key


def encode(cfg, family, w, ids, types, pad):
    """The encoder's last hidden states [B, T, H] (modeling_bert/roberta/distilbert)."""
    B, T = ids.shape
    h, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    hd, eps = h // nh, cfg["layer_norm_eps"]
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (h,), w[p + ".weight"], w[p + ".bias"], eps)
    lin = lambda x, p: x @ w[p + ".weight"].T + w[p + ".bias"]
    if family in ("roberta", "xlm-roberta"):
        pidx = cfg["pad_token_id"]
        mask = (ids != pidx).long()
        positions = torch.cumsum(mask, dim=1) * mask + pidx
    else:
        positions = torch.arange(T).expand(B, T)
    x = w["bert.embeddings.word_embeddings.weight"][ids] + w["bert.embeddings.position_embeddings.weight"][positions]
    if family != "distilbert":
        x = x + w["bert.embeddings.token_type_embeddings.weight"][types]
    x = ln(x, "bert.embeddings.LayerNorm")
    for l in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{l}."
        q, k, v = (lin(x, p + "attention.self." + n).view(B, T, nh, hd).transpose(1, 2) for n in ("query", "key", "value"))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        att = torch.softmax(att.masked_fill(pad.view(B, 1, 1, T), float("-inf")), dim=-1)
        a = (att @ v).transpose(1, 2).reshape(B, T, h)
        x = ln(x + lin(a, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        x = ln(x + lin(gelu(lin(x, p + "intermediate.dense")), p + "output.dense"), p + "output.LayerNorm")
    return x


def logits_of(family, head, w, x):
    """The head on hidden states x (dropout is off: p = 0)."""
    lin = lambda x, p: x @ w[p + ".weight"].T + w[p + ".bias"]
    if head == "tokcls":
        return lin(x, "classifier")
    cls = x[:, 0]
    if family == "bert":
        return lin(torch.tanh(lin(cls, "bert.pooler.dense")), "classifier")
    if family == "distilbert":
        return lin(torch.relu(lin(cls, "pre_classifier")), "classifier")
    return lin(torch.tanh(lin(cls, "classifier.dense")), "classifier.out_proj")


ARCH = {"bert": "Bert", "roberta": "Roberta", "xlm-roberta": "XLMRoberta", "distilbert": "DistilBert"}


def config_json(cfg, family, arch, id2label, extra=None):
    labels = {"id2label": {str(i): l for i, l in enumerate(id2label)}, "label2id": {l: i for i, l in enumerate(id2label)}}
    if family == "distilbert":
        c = {"model_type": "distilbert", "architectures": [arch], "vocab_size": cfg["vocab_size"], "dim": cfg["hidden_size"],
             "n_layers": cfg["num_hidden_layers"], "n_heads": cfg["num_attention_heads"], "hidden_dim": cfg["intermediate_size"],
             "activation": "gelu", "dropout": 0.1, "attention_dropout": 0.0, "qa_dropout": 0.1, "seq_classif_dropout": 0.2,
             "max_position_embeddings": cfg["max_position_embeddings"], "sinusoidal_pos_embds": False,
             "initializer_range": 0.02, "pad_token_id": cfg["pad_token_id"], **labels}
    else:
        c = {**cfg, "model_type": family, "architectures": [arch], **labels}
    c.update(extra or {})
    return c


def model_fixtures():
    gen = torch.Generator().manual_seed(17)
    out = os.path.join(ROOT, "models", "bert", "testdata")
    B, T = 3, 8
    for family in ("bert", "roberta", "xlm-roberta", "distilbert"):
        cfg = dict(CFG)
        if family in ("roberta", "xlm-roberta"):
            cfg.update(pad_token_id=1, type_vocab_size=1, max_position_embeddings=CFG["max_position_embeddings"] + 2, layer_norm_eps=1e-5)
        ids = torch.randint(2, cfg["vocab_size"], (B, T), generator=gen)
        ids[1, -3:] = cfg["pad_token_id"]
        ids[2, -1:] = cfg["pad_token_id"]
        pad = ids == cfg["pad_token_id"]
        types = torch.zeros(B, T, dtype=torch.long)
        if family == "bert":
            types[:, 4:] = 1
        for head, names in (("seqcls", ["negative", "neutral", "positive"]), ("tokcls", ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])):
            w32 = encoder_params(cfg, family, gen)
            w32.update(head_params(cfg, family, head, len(names), gen))
            w = {k: v.double().requires_grad_() for k, v in w32.items()}
            x = encode(cfg, family, w, ids, types, pad)
            logits = logits_of(family, head, w, x)
            ref = {"ids": ids.float(), "types": types.float(), "pad": pad.float()}
            if head == "seqcls":
                labels = torch.tensor([2, 0, 1])
                loss = torch.nn.functional.cross_entropy(logits, labels)
                arch = ARCH[family] + "ForSequenceClassification"
            else:
                labels = torch.randint(0, len(names), (B, T), generator=gen)
                labels[pad] = -100
                labels[:, 0] = -100
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, len(names)), labels.reshape(-1), ignore_index=-100)
                arch = ARCH[family] + "ForTokenClassification"
            loss.backward()
            ref["labels"], ref["logits"], ref["loss"] = labels.float(), logits, loss.reshape(1)
            for k, v in w.items():
                ref["grad." + rename(family, k)] = v.grad
            name = f"{family.replace('-', '')}_{head}"
            d = os.path.join(out, name)
            os.makedirs(d, exist_ok=True)
            st.save(os.path.join(d, "model.safetensors"), {rename(family, k): v for k, v in w32.items()}, {"format": "pt"})
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(config_json(cfg, family, arch, names, {"problem_type": "single_label_classification"} if head == "seqcls" else None), f, indent=2)
            st.save(os.path.join(out, name + "_ref.safetensors"), ref, {"torch": torch.__version__})
            print(name, "loss", loss.item())
            if family == "bert" and head == "seqcls":
                st.save(os.path.join(out, "bert_base_ref.safetensors"), {"ids": ids.float(), "types": types.float(), "pad": pad.float(),
                                                                         "hidden": x.detach()}, {"torch": torch.__version__})


VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "?", "'", "-",
         "the", "a", "is", "in", "of", "to", "and", "this", "that", "it", "was", "i", "how", "do", "install",
         "package", "python", "debian", "fast", "slow", "good", "great", "bad", "terrible", "movie", "film",
         "john", "smith", "mary", "lives", "works", "paris", "london", "new", "york", "city", "berlin",
         "sports", "politics", "cooking", "about", "game", "election", "recipe", "won", "team", "vote",
         "bake", "bread", "play", "##s", "##ed", "##ing", "##er", "un", "##believ", "##able", "lib", "##ssl",
         "server", "web", "library", "tool", "for", "compress", "##ion", "files", "data", "image", "viewer",
         "example", "news", "software", "at", "with", ":"]


def tokenizer_json():
    """A BERT WordPiece tokenizer.json as the fast tokenizers write it."""
    specials = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
                for i, t in enumerate(VOCAB[:5])]
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": specials,
            "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {"type": "TemplateProcessing",
                               "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                               "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                                        {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                               "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for i, t in enumerate(VOCAB[:4]) if t.startswith("[") and t != "[PAD]" and t != "[UNK]"}},
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                      "vocab": {t: i for i, t in enumerate(VOCAB)}}}


def write_dir(d, family, arch, w32, cfg, names, extra=None, bare=False):
    os.makedirs(d, exist_ok=True)
    if bare:
        w32 = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in w32.items()}
    st.save(os.path.join(d, "model.safetensors"), w32, {"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config_json(cfg, family, arch, names, extra), f, indent=2)
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(), f, indent=1)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer", "cls_token": "[CLS]",
                   "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"}, f, indent=2)


def bytes_to_unicode():
    """GPT-2's byte → character table (printable bytes stand for themselves)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


GPT2_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
BPE_CORPUS = ("John Smith lives in New York City and works in Berlin. Mary played in Paris, London and Berlin! "
              "The library libssl does compression; Smithson and Johnson live in Newark. ") * 3


def train_bpe(text, merges_wanted):
    """A byte-level BPE: the most frequent adjacent pair merged, again and again (ties by first seen)."""
    import collections
    import regex
    b2u = bytes_to_unicode()
    words = collections.Counter("".join(b2u[b] for b in w.encode()) for w in regex.findall(GPT2_SPLIT, text))
    words = {tuple(w): c for w, c in words.items()}
    merges = []
    for _ in range(merges_wanted):
        pairs = collections.Counter()
        for w, c in words.items():
            for p in zip(w, w[1:]):
                pairs[p] += c
        if not pairs:
            break
        best = max(pairs, key=lambda p: pairs[p])
        merges.append(best)
        new = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = c
        words = new
    vocab = ROBERTA_SPECIALS + [b2u[b] for b in range(256)] + [a + b for a, b in merges]
    return vocab, merges


def roberta_ner(gen, out, cfg):
    """A RobertaForTokenClassification with a byte-level BPE tokenizer.json (RobertaProcessing)."""
    vocab, merges = train_bpe(BPE_CORPUS, 120)
    d = os.path.join(out, "ner-roberta")
    os.makedirs(d, exist_ok=True)
    tok = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
                            for i, t in enumerate(ROBERTA_SPECIALS)],
           "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
           "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": True, "add_prefix_space": False},
           "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
                     "fuse_unk": False, "vocab": {t: i for i, t in enumerate(vocab)}, "merges": [a + " " + b for a, b in merges]}}
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tok, f, indent=1)
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    rcfg = dict(cfg, vocab_size=len(vocab), pad_token_id=1, type_vocab_size=1, max_position_embeddings=cfg["max_position_embeddings"] + 2, layer_norm_eps=1e-5)
    w32 = encoder_params(rcfg, "roberta", gen)
    w32.update(head_params(rcfg, "roberta", "tokcls", len(names), gen))
    # A bias that centres the logits over typical tokens, so that labels vary from token to
    # token and the strategies have groups to form.
    ids = torch.randint(5, len(vocab), (4, 12), generator=gen)
    x = encode(rcfg, "roberta", {k: v.double() for k, v in w32.items()}, ids, torch.zeros_like(ids), torch.zeros(4, 12, dtype=torch.bool))
    w32["classifier.weight"] *= 3
    w32["classifier.bias"] = -(x.float() @ w32["classifier.weight"].T).mean((0, 1))
    st.save(os.path.join(d, "model.safetensors"), {rename("roberta", k): v for k, v in w32.items()}, {"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config_json(rcfg, "roberta", "RobertaForTokenClassification", names, {"bos_token_id": 0, "eos_token_id": 2}), f, indent=2)


def pipeline_models():
    gen = torch.Generator().manual_seed(23)
    out = os.path.join(ROOT, "pipelines", "testdata", "encoders")
    cfg = dict(CFG, vocab_size=len(VOCAB), max_position_embeddings=32)
    for name, pooling, normalize, st_cfg in (("st-mean", {"pooling_mode_mean_tokens": True}, True, {"max_seq_length": 12, "do_lower_case": False}),
                                             ("st-cls", {"pooling_mode_cls_token": True}, True, {"max_seq_length": 32, "do_lower_case": False}),
                                             ("st-maxmean", {"pooling_mode_max_tokens": True, "pooling_mode_mean_tokens": True}, False,
                                              {"max_seq_length": 16, "do_lower_case": True})):
        w32 = encoder_params(cfg, "bert", gen)
        h = cfg["hidden_size"]
        w32["bert.pooler.dense.weight"], w32["bert.pooler.dense.bias"] = torch.randn(h, h, generator=gen) * 0.3, torch.zeros(h)
        d = os.path.join(out, name)
        write_dir(d, "bert", "BertModel", w32, cfg, ["LABEL_0", "LABEL_1"], bare=True)
        mods = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
        if normalize:
            mods.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
            os.makedirs(os.path.join(d, "2_Normalize"), exist_ok=True)
        with open(os.path.join(d, "modules.json"), "w") as f:
            json.dump(mods, f, indent=2)
        with open(os.path.join(d, "sentence_bert_config.json"), "w") as f:
            json.dump(st_cfg, f, indent=2)
        os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
        p = {"word_embedding_dimension": h, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False,
             "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False,
             "include_prompt": True, **pooling}
        with open(os.path.join(d, "1_Pooling", "config.json"), "w") as f:
            json.dump(p, f, indent=2)
    # multilingual-e5's layout: XLM-RoBERTa, SentencePiece (fairseq ids), mean pooling, Normalize.
    import sentencepiece as spm
    spm_path = os.path.join(ROOT, "tokenizer", "testdata", "sentencepiece", "unigram.model")
    sp = spm.SentencePieceProcessor(model_file=spm_path)
    xcfg = dict(cfg, vocab_size=sp.get_piece_size() + 2, pad_token_id=1, type_vocab_size=1, max_position_embeddings=34, layer_norm_eps=1e-5)
    w32 = encoder_params(xcfg, "xlm-roberta", gen)
    d = os.path.join(out, "st-xlmr")
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    os.makedirs(os.path.join(d, "2_Normalize"), exist_ok=True)
    st.save(os.path.join(d, "model.safetensors"), {k.replace("bert.", "", 1): v for k, v in w32.items()}, {"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config_json(xcfg, "xlm-roberta", "XLMRobertaModel", ["LABEL_0", "LABEL_1"], {"bos_token_id": 0, "eos_token_id": 2}), f, indent=2)
    with open(spm_path, "rb") as src, open(os.path.join(d, "sentencepiece.bpe.model"), "wb") as dst:
        dst.write(src.read())
    proto_vocab = [[sp.id_to_piece(i), sp.get_score(i)] for i in range(3, sp.get_piece_size())]
    with open(os.path.join(d, "tokenizer.json"), "w") as f:  # XLMRobertaConverter's vocabulary (not read: the .model is)
        json.dump({"version": "1.0", "model": {"type": "Unigram", "unk_id": 3,
                                               "vocab": [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]] + proto_vocab + [["<mask>", 0.0]]}}, f)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512, "bos_token": "<s>", "eos_token": "</s>",
                   "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>"}, f, indent=2)
    with open(os.path.join(d, "modules.json"), "w") as f:
        json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                   {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}], f, indent=2)
    with open(os.path.join(d, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 16, "do_lower_case": False}, f)
    with open(os.path.join(d, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": cfg["hidden_size"], "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
                   "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, f, indent=2)
    roberta_ner(gen, out, cfg)
    for name, head, names, extra in (("sentiment", "seqcls", ["NEGATIVE", "NEUTRAL", "POSITIVE"], None),
                                     ("topics", "seqcls", ["sports", "politics", "cooking", "software"], {"problem_type": "multi_label_classification"}),
                                     ("ner", "tokcls", ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], None),
                                     ("nli", "seqcls", ["contradiction", "neutral", "entailment"], None),
                                     ("reranker", "seqcls", ["LABEL_0"], None)):
        w32 = encoder_params(cfg, "bert", gen)
        w32.update(head_params(cfg, "bert", head, len(names), gen))
        if name == "ner":  # labels worth grouping: bias the classifier towards entities
            w32["classifier.bias"] = torch.tensor([0.2, 0.6, 0.5, 0.4, 0.3])
        arch = "BertFor" + ("TokenClassification" if head == "tokcls" else "SequenceClassification")
        write_dir(os.path.join(out, name), "bert", arch, w32, cfg, names, extra)
    print("pipeline models written to", out)


if __name__ == "__main__":
    model_fixtures()
    pipeline_models()
