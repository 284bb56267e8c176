#!/usr/bin/python3
"""Writes the fixtures of goformer's SentencePiece reader (tokenizer/sentencepiece.go).

Run from the repository root with Debian's python3-sentencepiece (and python3-torch not needed):
    /usr/bin/python3 scripts/reference/sentencepiece_models.py

It trains small models with the sentencepiece library on the project's corpora (Debian package
descriptions and Multi30k German/English) under several settings, then encodes held-out text (the
Debian test split, Multi30k's test set) and a list of hard cases with each, recording the pieces,
the ids and the decoded text the library gives:

tokenizer/testdata/sentencepiece/NAME.model   the models
tokenizer/testdata/sentencepiece/expected.json.gz
    {"texts": [...], "models": {NAME: [{"pieces": [...], "ids": [...], "decoded": "..."}, ...]}}
"""
import gzip
import json
import os
import random
import tempfile

import sentencepiece as spm

OUT = "tokenizer/testdata/sentencepiece"
os.makedirs(OUT, exist_ok=True)
random.seed(0)


def lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f]


debian = [json.loads(l) for l in lines("data/debian/train.jsonl.gz")[:6000]]
train_text = [d["description"] for d in debian] + [d["synopsis"] for d in debian]
train_text += lines("data/multi30k/train.de.gz")[:4000] + lines("data/multi30k/train.en.gz")[:2000]
corpus = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8")
for t in train_text:
    corpus.write(t.replace("\n", " ") + "\n")
corpus.close()

# Each setting: name -> spm_train options.
SETTINGS = {
    "unigram": dict(model_type="unigram", vocab_size=1200),
    "bpe": dict(model_type="bpe", vocab_size=1000),
    "unigram_bytes": dict(model_type="unigram", vocab_size=1200, byte_fallback=True, character_coverage=0.98),
    "bpe_bytes_user": dict(model_type="bpe", vocab_size=1000, byte_fallback=True, character_coverage=0.99,
                           user_defined_symbols=["<sep>", "[MASK]", "C++"]),
    "unigram_nfkc_cf": dict(model_type="unigram", vocab_size=1000, normalization_rule_name="nfkc_cf",
                            remove_extra_whitespaces=False, add_dummy_prefix=False,
                            control_symbols=["<ctl>"], user_defined_symbols=["http://"]),
    "unigram_identity": dict(model_type="unigram", vocab_size=800, normalization_rule_name="identity",
                             character_coverage=0.9995),
    "bpe_nmt_nfkc_suffix": dict(model_type="bpe", vocab_size=800, treat_whitespace_as_suffix=True,
                                split_digits=True),
    "unigram_t5like": dict(model_type="unigram", vocab_size=1000, pad_id=0, eos_id=1, unk_id=2, bos_id=-1),
}

debian_test = [json.loads(l) for l in lines("data/debian/test.jsonl.gz")]
texts = [d["synopsis"] for d in debian_test[:150]] + [d["description"] for d in debian_test[:40]]
texts += lines("data/multi30k/test_2016_flickr.de.gz")[:60]
texts += [
    "", " ", "   ", "a", "Éléphant café naïve résumé Größe Straße", "日本語のテキストと漢字", "한국어 텍스트",
    "Emoji 👍🏽 and a family 👨‍👩‍👧 ok", "control\x01chars\x7fhere\u200b", "tab\tseparated\t\tvalues",
    "many      spaces   between", "  leading and trailing  ", "ＡＢＣ１２３ full width", "ﬁne ligature ½ ²",
    "<sep> user [MASK] symbols C++ and <s> </s> <unk> <ctl>", "http://example.org/path?q=1",
    "1234567890 numbers 3.14159", "MiXeD CaSe WORDS", "naïve vs nai\u0308ve (combining)", "\u00a0nbsp\u3000ideographic",
    "line\nbreak", "ÀÁÂÃÄÅ àáâãäå ÇçÑñ", "Ελληνικά Русский עברית العربية", "x" * 300,
    "a" + " " * 40 + "b", "▁already▁escaped▁", "\ufffd replacement", "🙂" * 5,
]
expected = {"texts": texts, "models": {}}
for name, opts in SETTINGS.items():
    prefix = os.path.join(OUT, name)
    spm.SentencePieceTrainer.train(input=corpus.name, model_prefix=prefix, input_sentence_size=0,
                                   num_threads=2, minloglevel=2, **opts)
    os.remove(prefix + ".vocab")
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    rows = []
    for t in texts:
        ids = sp.encode(t, out_type=int)
        pieces = sp.encode(t, out_type=str)
        rows.append({"pieces": pieces, "ids": ids, "decoded": sp.decode(ids)})
    expected["models"][name] = rows
    # Decoding of arbitrary id sequences (control, unknown, bytes in odd orders).
    rng = random.Random(name)
    expected["models"][name + "/random_ids"] = [
        {"ids": ids, "decoded": sp.decode(ids)}
        for ids in ([rng.randrange(sp.get_piece_size()) for _ in range(rng.randrange(1, 12))] for _ in range(200))]
os.remove(corpus.name)
with gzip.open(os.path.join(OUT, "expected.json.gz"), "wt", encoding="utf-8") as f:
    json.dump(expected, f, ensure_ascii=False)
print("wrote", len(SETTINGS), "models and", len(texts), "texts to", OUT)
