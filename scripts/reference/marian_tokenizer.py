#!/usr/bin/python3
"""Writes the fixture of goformer's OPUS-MT tokenizer (tokenizer/marian.go).

Run from the repository root with Debian's python3-sentencepiece:
    /usr/bin/python3 scripts/reference/marian_tokenizer.py

tokenizer/testdata/marian/ is laid out as an OPUS-MT directory's tokenizer (source.spm, target.spm,
vocab.json, tokenizer_config.json): two SentencePiece models trained on Multi30k German (source)
and English (target), and the joint vocabulary as OPUS-MT builds it (</s> 0, <unk> 1, the pieces,
a language code, <pad> last). expected.json holds, for held-out sentences, the ids
transformers' MarianTokenizer gives (rendered below from its code: language code kept whole,
source pieces looked up in vocab.json, <unk> for the missing, </s> appended) and the text its
decode gives for id sequences (convert_tokens_to_string: runs of pieces through the target
model's decode_pieces, special tokens spelled out, then ▁ → space and strip).
"""
import gzip
import json
import os
import random
import tempfile

import sentencepiece as spm

OUT = "tokenizer/testdata/marian"
os.makedirs(OUT, exist_ok=True)


def lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f]


models = {}
for name, lang in [("source.spm", "de"), ("target.spm", "en")]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lines(f"data/multi30k/train.{lang}.gz")[:8000]) + "\n")
    prefix = os.path.join(OUT, name)
    spm.SentencePieceTrainer.train(input=f.name, model_prefix=prefix, vocab_size=700, model_type="unigram",
                                   num_threads=2, minloglevel=2)
    os.rename(prefix + ".model", prefix)
    os.remove(prefix + ".vocab")
    os.remove(f.name)
    models[name] = spm.SentencePieceProcessor(model_file=prefix)

vocab = {"</s>": 0, "<unk>": 1}
for name in ["source.spm", "target.spm"]:
    sp = models[name]
    for i in range(sp.get_piece_size()):
        p = sp.id_to_piece(i)
        if p not in vocab and p not in ("<s>", "</s>", "<unk>"):
            vocab[p] = len(vocab)
vocab[">>en<<"] = len(vocab)
vocab["<pad>"] = len(vocab)
with open(os.path.join(OUT, "vocab.json"), "w", encoding="utf-8") as f:
    json.dump(vocab, f, ensure_ascii=False, indent=1)
with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
    json.dump({"source_lang": "de", "target_lang": "en", "separate_vocabs": False, "model_max_length": 512}, f)

decoder = {v: k for k, v in vocab.items()}
special = {"</s>", "<unk>", "<pad>"}
src, tgt = models["source.spm"], models["target.spm"]


def encode(text):
    code = []
    if text.startswith(">>") and text.find("<<") != -1:
        end = text.find("<<")
        code, text = [text[:end + 2]], text[end + 2:]
    pieces = code + src.encode(text, out_type=str)
    return pieces, [vocab.get(p, vocab["<unk>"]) for p in pieces] + [vocab["</s>"]]


def decode(ids):
    tokens = [decoder.get(i) or tgt.id_to_piece(i) or "<unk>" for i in ids]
    out, run = "", []
    for t in tokens:
        if t in special:
            out += tgt.decode_pieces(run) + t + " "
            run = []
        else:
            run.append(t)
    out += tgt.decode_pieces(run)
    return out.replace("▁", " ").strip()


texts = lines("data/multi30k/test_2016_flickr.de.gz")[:120] + [
    ">>en<< Ein Mann fährt Fahrrad.", "Grüße aus Köln — 日本 👍", "", "  Viele   Leerzeichen  ", "ÄÖÜ äöü ß",
    "Zahlen 12345 und Satzzeichen!?", "x" * 50]
rng = random.Random(0)
expected = {
    "encode": [{"text": t, "pieces": encode(t)[0], "ids": encode(t)[1]} for t in texts],
    "decode": [{"ids": ids, "text": decode(ids)} for ids in
               ([rng.randrange(len(vocab)) for _ in range(rng.randrange(0, 15))] for _ in range(300))] +
              [{"ids": encode(t)[1], "text": decode(encode(t)[1])} for t in lines("data/multi30k/test_2016_flickr.en.gz")[:50]],
}
with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
    json.dump(expected, f, ensure_ascii=False)
print("wrote", OUT, len(vocab), "tokens")
