#!/usr/bin/python3
"""Write the fixtures for goformer's ROUGE tests.

Usage: /usr/bin/python3 scripts/reference/rouge.py  (from the repository root)

ROUGE written from Google's rouge-score package (rouge/tokenize.py and
rouge/rouge_scorer.py, which Debian does not ship): lower-case, runs of
characters outside [a-z0-9] to spaces, tokens longer than 3 characters stemmed
with NLTK's PorterStemmer in its default mode (Debian's python3-nltk), clipped
n-gram counts for ROUGE-1/2, LCS for ROUGE-L, the summary-level union LCS over
newline-separated sentences for ROUGE-Lsum.

Writes metrics/testdata/rouge_ref.json.gz: pairs (prediction, reference) from
the Debian test split (lead sentences, cut leads, other synopses, shuffled
words) and corner cases, each with its F1 scores with and without stemming;
and the NLTK stems of every distinct word of the test split's descriptions.
"""
import collections
import gzip
import json
import os
import random
import re

from nltk.stem import porter

STEMMER = porter.PorterStemmer()


def tokenize(text, stem):
    text = re.sub(r"[^a-z0-9]+", " ", text.lower())
    tokens = re.split(r"\s+", text)
    if stem:
        tokens = [STEMMER.stem(x) if len(x) > 3 else x for x in tokens]
    return [x for x in tokens if re.match(r"^[a-z0-9]+$", x)]


def fmeasure(p, r):
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def ngrams(tokens, n):
    return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def score_ngrams(t, p):
    inter = sum(min(c, p[g]) for g, c in t.items())
    return fmeasure(inter / max(sum(p.values()), 1), inter / max(sum(t.values()), 1))


def lcs_table(ref, can):
    t = [[0] * (len(can) + 1) for _ in range(len(ref) + 1)]
    for i in range(1, len(ref) + 1):
        for j in range(1, len(can) + 1):
            t[i][j] = t[i - 1][j - 1] + 1 if ref[i - 1] == can[j - 1] else max(t[i - 1][j], t[i][j - 1])
    return t


def score_lcs(t, p):
    if not t or not p:
        return 0.0
    lcs = lcs_table(t, p)[-1][-1]
    return fmeasure(lcs / len(p), lcs / len(t))


def lcs_ind(ref, can):
    t = lcs_table(ref, can)
    i, j, out = len(ref), len(can), []
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.insert(0, i - 1)
            i -= 1
            j -= 1
        elif t[i][j - 1] > t[i - 1][j]:
            j -= 1
        else:
            i -= 1
    return out


def summary_lcs(ref_sent, can_sent):
    if not ref_sent or not can_sent:
        return 0.0
    m, n = sum(map(len, ref_sent)), sum(map(len, can_sent))
    if not n or not m:
        return 0.0
    cr, cc = collections.Counter(), collections.Counter()
    for s in ref_sent:
        cr.update(s)
    for s in can_sent:
        cc.update(s)
    hits = 0
    for r in ref_sent:
        union = sorted(set().union(*[lcs_ind(r, c) for c in can_sent]))
        for t in [r[i] for i in union]:
            if cc[t] > 0 and cr[t] > 0:
                hits += 1
                cc[t] -= 1
                cr[t] -= 1
    return fmeasure(hits / n, hits / m)


def scores(pred, ref, stem):
    p, r = tokenize(pred, stem), tokenize(ref, stem)
    ps = [tokenize(s, stem) for s in pred.split("\n") if len(s)]
    rs = [tokenize(s, stem) for s in ref.split("\n") if len(s)]
    return [100 * score_ngrams(ngrams(r, 1), ngrams(p, 1)), 100 * score_ngrams(ngrams(r, 2), ngrams(p, 2)),
            100 * score_lcs(r, p), 100 * summary_lcs(rs, ps)]


def lead(description):
    """The description's first sentence: white space collapsed, up to the
    first '.', '!' or '?' followed by a space or the end (the whole text if
    there is none)."""
    text = " ".join(description.split())
    m = re.search(r"[.!?](\s|$)", text)
    return text[:m.end()].strip() if m else text


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    rows = [json.loads(l) for l in gzip.open(os.path.join(root, "data", "debian", "test.jsonl.gz"), "rt")]
    rng = random.Random(5)
    pairs = [("", ""), ("", "a reference"), ("a prediction", ""), ("...", "!!! ???"), ("the the the the", "the"),
             ("the cat the cat", "the cat sat on the cat"), ("Ünïcödé wörds", "unicode words"),
             ("\u0130stanbul city", "istanbul city"), ("line one\nline two", "line two\nline one"),
             ("a b c\n\nd e", "c d e\na b"), ("running runs runner", "run running ran"),
             ("generalizations generalization", "generalize general"), ("3D graphics, 2x speed", "3d graphic")]
    for row in rows:
        d, s = row["description"], row["synopsis"]
        l = lead(d)
        pairs.append((l, s))
        pairs.append((" ".join(l.split()[:8]), s))
        pairs.append((rows[rng.randrange(len(rows))]["synopsis"], s))
        w = s.split()
        rng.shuffle(w)
        pairs.append((" ".join(w), s))
    pairs = pairs[:13 + 1600]
    out = {"pairs": [{"pred": p, "ref": r, "stem": scores(p, r, True), "nostem": scores(p, r, False)} for p, r in pairs]}
    words = sorted({w for row in rows for w in re.sub(r"[^a-z0-9]+", " ", row["description"].lower()).split()})
    extra = ["sky", "skies", "dying", "lying", "tying", "news", "innings", "outing", "cannings", "howe", "proceed",
             "exceed", "succeed", "ties", "dies", "cried", "tied", "happy", "enjoy", "spy", "fly", "sensibiliti",
             "analogousli", "radicalli", "hopefulli", "archaeologi", "controll", "roll", "hopping", "hissing",
             "filing", "failing", "agreed", "feed", "bled", "motoring", "sing", "conflated", "troubled", "sized"]
    words = sorted(set(words) | set(extra))
    out["stems"] = {w: STEMMER.stem(w) for w in words}
    with gzip.open(os.path.join(root, "metrics", "testdata", "rouge_ref.json.gz"), "wt") as f:
        json.dump(out, f)
    lead_scores = [scores(lead(r["description"]), r["synopsis"], True) for r in rows]
    print("pairs", len(out["pairs"]), "stems", len(words))
    print("lead baseline (test, stemmed): R1 %.1f R2 %.1f RL %.1f RLsum %.1f" % tuple(
        sum(x[i] for x in lead_scores) / len(lead_scores) for i in range(4)))


if __name__ == "__main__":
    main()
