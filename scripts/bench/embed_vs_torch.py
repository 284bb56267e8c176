#!/usr/bin/python3
"""Sentence-embedding speed: goformer against PyTorch, same model, same sentences, same run.

Usage: /usr/bin/python3 scripts/bench/embed_vs_torch.py [--goformer ./goformer] [--threads 2]
           [--sentences 512] [--batch 1,64] [--json results/embed-speed/embed.json]

Writes a sentence-transformers directory shaped as all-MiniLM-L6-v2 (BertModel:
6 layers, hidden 384, 12 heads, FFN 1536, vocabulary 30522, 512 positions;
mean pooling, Normalize, max_seq_length 256) with random weights, and a BERT
WordPiece tokenizer.json over the words of the sentences: the first sentence
of each Debian test description. goformer embeds them with `goformer bench
embed` (tokenizing included). PyTorch 1.13 (Debian's python3-torch) runs
BertModel as transformers' modeling_bert computes it in eager mode (nn.Linear,
matmul + softmax attention with the padding mask, exact GELU, LayerNorm), the
mean pooling and normalisation of sentence-transformers, under
torch.inference_mode on the same number of threads, on the token ids goformer's
tokenizer gives (`goformer tokenizer encode --lines`; PyTorch's time leaves the
tokenizing out), sentences sorted by length and batched as
SentenceTransformer.encode does. Each side's time is the best of 3 passes
after a warm-up pass; the script checks that the two sides' vectors agree.
"""
import argparse, collections, gzip, json, math, os, re, subprocess, sys, tempfile, time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
import st  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CFG = {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6,
       "num_attention_heads": 12, "intermediate_size": 1536, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
       "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02,
       "layer_norm_eps": 1e-12, "pad_token_id": 0}


def sentences(n):
    out = []
    with gzip.open(os.path.join(ROOT, "data", "debian", "test.jsonl.gz"), "rt") as f:
        for line in f:
            d = json.loads(line)["description"].replace("\n", " ")
            s = re.split(r"(?<=\.)\s", d, maxsplit=1)[0].strip()
            if s:
                out.append(s)
            if len(out) == n:
                break
    return out


def write_model(d, texts):
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    os.makedirs(os.path.join(d, "2_Normalize"), exist_ok=True)
    words = collections.Counter(w for t in texts for w in re.findall(r"[a-z0-9]+", t.lower()))
    chars = sorted({c for t in texts for c in t.lower() if not c.isspace()})
    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += [c for c in chars if c not in vocab] + ["##" + c for c in chars]
    vocab += [w for w, _ in words.most_common() if w not in vocab and len(w) > 1][:CFG["vocab_size"] - len(vocab)]
    tok = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": [{"id": vocab.index(t), "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                             "normalized": False, "special": True} for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")],
           "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
           "pre_tokenizer": {"type": "BertPreTokenizer"},
           "post_processor": {"type": "BertProcessing", "cls": ["[CLS]", vocab.index("[CLS]")], "sep": ["[SEP]", vocab.index("[SEP]")]},
           "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
           "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                     "vocab": {t: i for i, t in enumerate(vocab)}}}
    json.dump(tok, open(os.path.join(d, "tokenizer.json"), "w"))
    json.dump(CFG, open(os.path.join(d, "config.json"), "w"), indent=2)
    json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
              open(os.path.join(d, "modules.json"), "w"))
    json.dump({"max_seq_length": 256, "do_lower_case": False}, open(os.path.join(d, "sentence_bert_config.json"), "w"))
    json.dump({"word_embedding_dimension": 384, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
               "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, open(os.path.join(d, "1_Pooling", "config.json"), "w"))
    g = torch.Generator().manual_seed(0)
    h, i = CFG["hidden_size"], CFG["intermediate_size"]
    r = lambda *s: torch.randn(*s, generator=g) * 0.02
    w = {"embeddings.word_embeddings.weight": r(CFG["vocab_size"], h), "embeddings.position_embeddings.weight": r(512, h),
         "embeddings.token_type_embeddings.weight": r(2, h), "embeddings.LayerNorm.weight": torch.ones(h), "embeddings.LayerNorm.bias": torch.zeros(h)}
    for l in range(CFG["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        for n, (o, ii) in {"attention.self.query": (h, h), "attention.self.key": (h, h), "attention.self.value": (h, h),
                           "attention.output.dense": (h, h), "intermediate.dense": (i, h), "output.dense": (h, i)}.items():
            w[p + n + ".weight"], w[p + n + ".bias"] = r(o, ii), torch.zeros(o)
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + n + ".weight"], w[p + n + ".bias"] = torch.ones(h), torch.zeros(h)
    w["pooler.dense.weight"], w["pooler.dense.bias"] = r(h, h), torch.zeros(h)
    st.save(os.path.join(d, "model.safetensors"), w, {"format": "pt"})
    return w


class Bert(torch.nn.Module):
    """modeling_bert's BertModel (eager attention), without the pooler."""

    def __init__(self, w):
        super().__init__()
        h, self.nh = CFG["hidden_size"], CFG["num_attention_heads"]
        self.word = torch.nn.Embedding.from_pretrained(w["embeddings.word_embeddings.weight"])
        self.pos = torch.nn.Embedding.from_pretrained(w["embeddings.position_embeddings.weight"])
        self.typ = torch.nn.Embedding.from_pretrained(w["embeddings.token_type_embeddings.weight"])
        self.ln = torch.nn.LayerNorm(h, eps=1e-12)
        self.layers = torch.nn.ModuleList()

        def lin(name, o, i):
            m = torch.nn.Linear(i, o)
            m.weight.data, m.bias.data = w[name + ".weight"], w[name + ".bias"]
            return m
        for l in range(CFG["num_hidden_layers"]):
            p = f"encoder.layer.{l}."
            self.layers.append(torch.nn.ModuleDict({
                "q": lin(p + "attention.self.query", h, h), "k": lin(p + "attention.self.key", h, h),
                "v": lin(p + "attention.self.value", h, h), "o": lin(p + "attention.output.dense", h, h),
                "ln1": torch.nn.LayerNorm(h, eps=1e-12), "fc1": lin(p + "intermediate.dense", CFG["intermediate_size"], h),
                "fc2": lin(p + "output.dense", h, CFG["intermediate_size"]), "ln2": torch.nn.LayerNorm(h, eps=1e-12)}))

    def forward(self, ids, mask):
        b, t = ids.shape
        x = self.ln(self.word(ids) + self.pos(torch.arange(t)) + self.typ(torch.zeros_like(ids)))
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        hd = x.shape[-1] // self.nh
        for L in self.layers:
            q, k, v = (L[n](x).view(b, t, self.nh, hd).transpose(1, 2) for n in ("q", "k", "v"))
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + ext, dim=-1) @ v
            x = L["ln1"](x + L["o"](a.transpose(1, 2).reshape(b, t, -1)))
            x = L["ln2"](x + L["fc2"](torch.nn.functional.gelu(L["fc1"](x))))
        m = mask[..., None].float()
        return torch.nn.functional.normalize((x * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)


def torch_pass(model, ids, batch):
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out = [None] * len(ids)
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        t = max(len(ids[i]) for i in idx)
        x = torch.tensor([ids[i] + [0] * (t - len(ids[i])) for i in idx])
        m = torch.tensor([[1] * len(ids[i]) + [0] * (t - len(ids[i])) for i in idx])
        v = model(x, m)
        for j, i in enumerate(idx):
            out[i] = v[j]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--goformer", default=os.path.join(ROOT, "goformer"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sentences", type=int, default=512)
    ap.add_argument("--batch", default="1,64")
    ap.add_argument("--json", default="")
    ap.add_argument("--model-dir", default="", help="write the model here (default: a temporary directory)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tmp = a.model_dir or tempfile.mkdtemp()
    os.makedirs(tmp, exist_ok=True)
    texts = sentences(a.sentences)
    w = write_model(tmp, texts)
    path = os.path.join(tmp, "sentences.txt")
    open(path, "w").write("\n".join(texts) + "\n")
    enc = subprocess.run([a.goformer, "tokenizer", "encode", "--model", tmp, "--lines"], input="\n".join(texts) + "\n",
                         capture_output=True, text=True, check=True).stdout
    ids = [[int(x) for x in l.split()][:256] for l in enc.strip("\n").split("\n")]
    ids = [l[:255] + [l[-1]] if len(l) == 256 else l for l in ids]
    tokens = sum(len(l) for l in ids)
    model = Bert(w).eval()
    rows = []
    go_vecs = None
    for b in [int(x) for x in a.batch.split(",")]:
        res = subprocess.run([a.goformer, "bench", "embed", "--model", tmp, "--data", path, "--batch", str(b), "--threads", str(a.threads), "--json"],
                             capture_output=True, text=True, check=True)
        g = json.loads(res.stdout)
        with torch.inference_mode():
            torch_pass(model, ids, b)
            best = math.inf
            for _ in range(3):
                t0 = time.perf_counter()
                vecs = torch_pass(model, ids, b)
                best = min(best, time.perf_counter() - t0)
        pt = len(texts) / best
        rows.append({"batch": b, "sentences": len(texts), "tokens": tokens, "goformer_sentences_per_s": g["sentences_per_s"],
                     "pytorch_sentences_per_s": pt, "ratio": g["sentences_per_s"] / pt, "threads": a.threads, "torch": torch.__version__})
        print(f"batch {b}: goformer {g['sentences_per_s']:.1f} sentences/s, PyTorch {pt:.1f} sentences/s: {g['sentences_per_s'] / pt:.2f}x "
              f"({len(texts)} sentences, {tokens} tokens, {a.threads} threads)")
    out = subprocess.run([a.goformer, "embed", "--model", tmp], input="\n".join(texts[:32]) + "\n", capture_output=True, text=True, check=True).stdout
    gv = torch.tensor([json.loads(l)["embedding"] for l in out.strip().split("\n")])
    pv = torch.stack(vecs[:32])
    err = (gv - pv).abs().max().item()
    print(f"largest difference between the two sides' vectors over 32 sentences: {err:.2e}")
    if a.json:
        os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
        json.dump({"model": "all-MiniLM-L6-v2 shape, random weights", "rows": rows, "max_abs_diff": err}, open(a.json, "w"), indent=1)
    if err > 1e-4:
        sys.exit("the two sides disagree")


if __name__ == "__main__":
    main()
