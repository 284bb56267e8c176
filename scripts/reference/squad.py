#!/usr/bin/python3
"""Write the fixtures for goformer's SQuAD metric tests.

Usage: /usr/bin/python3 scripts/reference/squad.py  (from the repository root)

Exact match and F1 written from the official SQuAD v1.1 evaluation script
(evaluate-v1.1.py): normalise (lower-case, drop string.punctuation, drop the
words a/an/the with re's Unicode \\b, collapse white space with str.split),
token F1 from Counter intersection, each question's best over its answers,
missing predictions score 0, both averaged × 100.

Writes metrics/testdata/squad_ref.json.gz: (prediction, answers) pairs with
their EM and F1 (from the Debian cloze test split: the answer, the
most-frequent-context-word baseline, perturbed answers, corner cases), and the
totals of the baseline over the test split.
"""
import collections
import gzip
import json
import os
import random
import re
import string


def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def f1_score(prediction, ground_truth):
    p, g = normalize_answer(prediction).split(), normalize_answer(ground_truth).split()
    common = collections.Counter(p) & collections.Counter(g)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision, recall = num_same / len(p), num_same / len(g)
    return 2 * precision * recall / (precision + recall)


def exact_match_score(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def best(fn, prediction, truths):
    return max(fn(prediction, t) for t in truths)


def baseline(context, question):
    """The most frequent word of >= 4 letters in the context that is not in
    the question (the data README's baseline)."""
    qwords = set(w.lower() for w in re.findall(r"[A-Za-z]+", question))
    counts = collections.Counter(w.lower() for w in re.findall(r"[A-Za-z]{4,}", context) if w.lower() not in qwords)
    return counts.most_common(1)[0][0] if counts else ""


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    data = json.load(gzip.open(os.path.join(root, "data", "debian", "test-cloze-squad.json.gz"), "rt"))["data"]
    rng = random.Random(3)
    pairs = [("The cat", ["cat"]), ("a cat!", ["the Cat"]), ("", ["x"]), ("théa", ["thé"]), ("an apple an", ["apple"]),
             ("cat cat dog", ["cat dog dog"]), ("\u0130stanbul", ["istanbul"]), ("x\x1cy", ["x y"]), ("“quoted”", ["quoted"]),
             ("the", ["a"]), ("  spaced\tout\n", ["spaced out"]), ("under_score", ["under score"])]
    preds, questions = {}, []
    for art in data:
        for p in art["paragraphs"]:
            for qa in p["qas"]:
                truths = [a["text"] for a in qa["answers"]]
                b = baseline(p["context"], qa["question"])
                preds.setdefault(qa["id"], b)
                questions.append((qa["id"], truths))
                if len(pairs) < 2400:
                    a = truths[0]
                    pairs.append((a, truths))
                    pairs.append((b, truths))
                    pairs.append(("The " + a.upper() + ".", truths))
                    words = p["context"].split()
                    i = rng.randrange(len(words))
                    pairs.append((" ".join(words[i:i + rng.randrange(1, 5)]) + " " + a, truths))
    em = f1 = 0.0
    for qid, truths in questions:
        em += best(exact_match_score, preds[qid], truths)
        f1 += best(f1_score, preds[qid], truths)
    total = {"exact_match": 100 * em / len(questions), "f1": 100 * f1 / len(questions), "questions": len(questions)}
    out = {"pairs": [{"prediction": p, "answers": t, "em": float(best(exact_match_score, p, t)), "f1": float(best(f1_score, p, t))}
                     for p, t in pairs],
           "baseline_predictions": preds, "baseline": total,
           "normalized": {p: normalize_answer(p) for p, _ in pairs[:12]}}
    with gzip.open(os.path.join(root, "metrics", "testdata", "squad_ref.json.gz"), "wt") as f:
        json.dump(out, f)
    print("pairs", len(pairs), "baseline on the test split:", total)


if __name__ == "__main__":
    main()
