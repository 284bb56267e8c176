#!/usr/bin/python3
# How much of a synopsis a description's head leaves out: for the validation
# descriptions longer than CUT words (rouge-score's tokenisation: lower case,
# runs of [a-z0-9]), the share of their synopses' content words (a few
# stop words aside) found in the first CUT words, only after them, or nowhere.
# Usage (repository root): results/debian-summarize/tail-words.py > results/debian-summarize/tail-words.txt
import gzip, json, re

rows = [json.loads(l) for l in gzip.open('data/debian/valid.jsonl.gz', 'rt')]
tok = lambda s: re.sub(r'[^a-z0-9]+', ' ', s.lower()).split()
stop = set('a an the of for and to in with on from by is this package contains provides files file'.split())
print('cut_words longer_docs synopsis_words in_head only_after_cut nowhere only_after_cut_per_doc_of_all')
for cut in (48, 96, 120, 144):
    head = tail = none = total = longer = 0
    for r in rows:
        d = tok(r['description'])
        if len(d) <= cut:
            continue
        longer += 1
        h, t = set(d[:cut]), set(d[cut:])
        for w in tok(r['synopsis']):
            if w in stop:
                continue
            total += 1
            if w in h:
                head += 1
            elif w in t:
                tail += 1
            else:
                none += 1
    print(cut, longer, total, round(head / total, 3), round(tail / total, 3), round(none / total, 3), round(tail / len(rows), 3))
