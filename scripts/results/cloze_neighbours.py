#!/usr/bin/env python3
"""How far lexical matching goes on the Debian cloze questions, and how much of it a reader learnt.

1. A rule with no learning: among the context's words of at least four letters and digits that are
   not stop words and not in the question, pick the one whose neighbours match the blank's (the word
   just before the blank scores 3, just after 3, two before or after 1 each, and each question word
   within five words 0.5; ties go to the earliest). Prints its exact match (the answer compared
   lower-cased, as the official metric's normalisation would for one word).
2. With --predictions (a SQuAD predictions JSON from `goformer eval --squad`): the model's exact
   match on the questions whose answer follows the blank's left neighbour in the context, those
   whose answer precedes its right neighbour, and the rest; and how many wrong answers are words
   of the question itself.

Usage: scripts/results/cloze_neighbours.py data/debian/test-cloze-squad.json.gz [--predictions P.json]
Standard library only.
"""
import argparse
import collections
import gzip
import json
import re

STOP = set("""about above after again against because been before being below between both does
doing down during each from further have having here hers herself himself into itself just more most
myself once only other ours ourselves over same should some such than that their theirs them
themselves then there these they this those through under until very were what when where which
while whom will with your yours yourself yourselves also""".split())


def words(s):
    return [w.lower() for w in re.findall(r"[A-Za-z0-9]+", s)]


def rule(question, context):
    i = question.index("_____")
    left, right = words(question[:i]), words(question[i + 5:])
    qset = set(left + right)
    cl = words(context)
    best, best_score = None, -1.0
    for j, w in enumerate(cl):
        if len(w) < 4 or w in STOP or w in qset or not re.search("[a-z]", w):
            continue
        s = 0.0
        if left and j > 0 and cl[j - 1] == left[-1]:
            s += 3
        if right and j + 1 < len(cl) and cl[j + 1] == right[0]:
            s += 3
        if len(left) > 1 and j > 1 and cl[j - 2] == left[-2]:
            s += 1
        if len(right) > 1 and j + 2 < len(cl) and cl[j + 2] == right[1]:
            s += 1
        s += 0.5 * len(set(cl[max(0, j - 5):j + 6]) & qset)
        s -= j * 0.001
        if s > best_score:
            best, best_score = w, s
    return best or ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("squad")
    ap.add_argument("--predictions")
    a = ap.parse_args()
    opener = gzip.open if a.squad.endswith(".gz") else open
    with opener(a.squad, "rt", encoding="utf-8") as f:
        data = json.load(f)
    preds = json.load(open(a.predictions)) if a.predictions else None
    n = right_rule = 0
    kinds = collections.defaultdict(lambda: [0, 0])
    in_question = 0
    for art in data["data"]:
        for p in art["paragraphs"]:
            c = p["context"]
            for q in p["qas"]:
                n += 1
                gold = q["answers"][0]
                right_rule += rule(q["question"], c) == gold["text"].lower()
                if preds is None:
                    continue
                i = q["question"].index("_____")
                left, right = words(q["question"][:i]), words(q["question"][i + 5:])
                before = words(c[:gold["answer_start"]])
                after = words(c[gold["answer_start"] + len(gold["text"]):])
                kind = "other"
                if left and before and before[-1] == left[-1]:
                    kind = "left neighbour matches"
                elif right and after and after[0] == right[0]:
                    kind = "right neighbour matches"
                h = preds.get(q["id"], "").lower()
                kinds[kind][1] += 1
                kinds[kind][0] += h == gold["text"].lower()
                if h != gold["text"].lower() and h in words(q["question"]):
                    in_question += 1
    out = {"questions": n, "neighbour_rule_exact_match": 100 * right_rule / n}
    if preds is not None:
        out["model_exact_match_by_kind"] = {k: {"questions": v[1], "exact_match": 100 * v[0] / v[1]} for k, v in sorted(kinds.items())}
        out["wrong_answers_that_are_question_words"] = in_question
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
