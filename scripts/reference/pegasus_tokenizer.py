#!/usr/bin/python3
"""Writes the fixture of goformer's Pegasus tokenizer (tokenizer/pegasus.go).

Run from the repository root with Debian's python3-sentencepiece:
    /usr/bin/python3 scripts/reference/pegasus_tokenizer.py

tokenizer/testdata/pegasus/ is laid out as a Pegasus directory's tokenizer: spiece.model (trained
here on Debian package descriptions with Pegasus's piece ids: <pad> 0, </s> 1, <unk> 2, and
<mask_1>, <mask_2> as user-defined symbols) and tokenizer_config.json. expected.json holds, for
held-out descriptions and hard cases, the ids transformers' PegasusTokenizer gives (rendered below
from its code: pieces by the model, special tokens by name, the rest shifted by the offset 103,
</s> appended) and the text its decode gives for id sequences (special tokens spelled out, runs
of pieces through the model's decode, stripped).
"""
import gzip
import json
import os
import random
import tempfile

import sentencepiece as spm

OUT = "tokenizer/testdata/pegasus"
os.makedirs(OUT, exist_ok=True)
with gzip.open("data/debian/train.jsonl.gz", "rt", encoding="utf-8") as f:
    docs = [json.loads(l) for _, l in zip(range(6000), f)]
with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
    for d in docs:
        f.write(d["description"].replace("\n", " ") + "\n")
spm.SentencePieceTrainer.train(input=f.name, model_prefix=os.path.join(OUT, "spiece"), vocab_size=900, model_type="unigram",
                               pad_id=0, eos_id=1, unk_id=2, bos_id=-1, user_defined_symbols=["<mask_1>", "<mask_2>"],
                               num_threads=2, minloglevel=2)
os.remove(f.name)
os.remove(os.path.join(OUT, "spiece.vocab"))
with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
    json.dump({"tokenizer_class": "PegasusTokenizer", "model_max_length": 512, "offset": 103}, f)
sp = spm.SentencePieceProcessor(model_file=os.path.join(OUT, "spiece.model"))

offset = 103
encoder = {0: "<pad>", 1: "</s>", 2: "<mask_1>", 3: "<mask_2>"}
additional = ["<mask_1>"] + [f"<unk_{i}>" for i in range(2, offset)]
encoder.update({i + 3: additional[i] for i in range(1, offset - 1)})
decoder = {v: k for k, v in encoder.items()}
all_special = {"<pad>", "</s>", "<unk>", "<mask_2>"} | set(additional)


def encode(text):
    pieces = sp.encode(text, out_type=str)
    return pieces, [decoder[p] if p in decoder else sp.piece_to_id(p) + offset for p in pieces] + [1]


def decode(ids):
    tokens = [encoder[i] if i in encoder else sp.id_to_piece(i - offset) for i in ids]
    out, run = "", []
    for t in tokens:
        if t in all_special:
            out += sp.decode(run) + t
            run = []
        else:
            run.append(t)
    out += sp.decode(run)
    return out.strip()


with gzip.open("data/debian/test.jsonl.gz", "rt", encoding="utf-8") as f:
    test = [json.loads(l)["description"] for _, l in zip(range(60), f)]
texts = test + ["", "  ", "A <mask_1> sentence <mask_2> with masks.", "Grüße 日本 👍", "x" * 40, "tab\tand  spaces"]
rng = random.Random(0)
size = sp.get_piece_size() + offset
expected = {
    "encode": [{"text": t, "pieces": encode(t)[0], "ids": encode(t)[1]} for t in texts],
    "decode": [{"ids": ids, "text": decode(ids)} for ids in
               ([rng.choice([rng.randrange(size), rng.randrange(offset + 5)]) for _ in range(rng.randrange(0, 14))]
                for _ in range(300))] + [{"ids": encode(t)[1], "text": decode(encode(t)[1])} for t in test[:20]],
}
with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
    json.dump(expected, f, ensure_ascii=False)
print("wrote", OUT, size, "ids")
