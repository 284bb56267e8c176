#!/usr/bin/python3
"""Write the fixture of goformer's question-answering pipeline test.

Usage: /usr/bin/python3 scripts/reference/qa_pipeline.py [--family roberta|distilbert]  (from
the repository root, after `go test ./pipelines -run 'QuestionAnswererMatch' -update` wrote
pipelines/testdata/qa_inputs.json (<family>_qa_inputs.json and the model <family>_qa/): the
question's and the context's token ids, the context's offsets and word ids, the options)

transformers' QuestionAnsweringPipeline, written from its code, on the
BERT QA fixture (models/bert/testdata/qa, the PyTorch BERT of bert.py):
  - [CLS] question [SEP] context [SEP], token types 0 then 1; the context
    truncated "only_second" into overflowing windows of max_seq_len tokens,
    each starting (budget - doc_stride) tokens after the last (the fast
    tokenizers' Encoding.truncate with a stride);
  - p_mask: every token but the context's masked, [CLS] left unmasked; masked
    logits set to -10000, softmax per window, then the [CLS] probability set to 0;
  - decode: the outer product of start and end probabilities, kept where
    start <= end < start + max_answer_len, the top_k, those starting and ending
    in the context; each widened to its words (token_to_word, word_to_chars);
  - every window's answers sorted by score, the top_k kept.
For RoBERTa (--family roberta, the model pipelines/testdata/roberta_qa written by
the Go test): <s> question </s></s> context </s>, one token type, positions
counted from padding_idx + 1 (modeling_roberta's create_position_ids_from_input_ids),
the window's budget max_seq_len - len(question) - 4. For DistilBERT (--family
distilbert, pipelines/testdata/distilbert_qa): BERT's template without token types.
Writes pipelines/testdata/qa_answers.json (<family>_qa_answers.json):
[{answer, score, start, end}] (start and end in characters of the context).
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert  # noqa: E402
import bert_families  # noqa: E402
import st  # noqa: E402


def main():
    family = sys.argv[2] if sys.argv[1:2] == ["--family"] else "bert"
    assert family in ("bert", "roberta", "distilbert"), family
    roberta = family == "roberta"
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    testdata = os.path.join(root, "pipelines", "testdata")
    prefix = "" if family == "bert" else family + "_"
    with open(os.path.join(testdata, prefix + "qa_inputs.json")) as f:
        inp = json.load(f)
    if family != "bert":
        model_dir = os.path.join(testdata, family + "_qa")
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        if family == "distilbert":  # its own config fields; LayerNorm eps fixed at 1e-12
            cfg = dict(cfg, hidden_size=cfg["dim"], num_hidden_layers=cfg["n_layers"], num_attention_heads=cfg["n_heads"],
                       intermediate_size=cfg["hidden_dim"], hidden_act=cfg["activation"], layer_norm_eps=1e-12)
        for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                  "max_position_embeddings", "layer_norm_eps", "pad_token_id"):
            bert_families.CFG[k] = bert.CFG[k] = cfg[k]
        assert cfg["hidden_act"] == "gelu"
        # The family's parameter names → BERT's, which the encoders read.
        names = {bert_families.rename(family, k): k for k in bert.params("qa", torch.Generator())}
        w = {names[k]: v.double() for k, v in st.load(os.path.join(model_dir, "model.safetensors")).items()}
    else:
        w = {k: v.double() for k, v in st.load(os.path.join(root, "models", "bert", "testdata", "qa", "model.safetensors")).items()}
    q, c = inp["question_ids"], inp["context_ids"]
    budget = inp["max_seq_len"] - len(q) - (4 if roberta else 3)
    stride = inp["doc_stride"]
    assert 0 < stride < budget
    spans, start = [], 0
    while True:  # tokenizers' Encoding.truncate(budget, stride)
        stop = min(start + budget, len(c))
        spans.append((start, stop))
        if stop == len(c):
            break
        start += budget - stride
    context, offsets, words = inp["context"], inp["offsets"], inp["words"]
    # Byte offsets (Go) to character offsets (Python str indices).
    b2c = {}
    pos = 0
    for ci, ch in enumerate(context):
        b2c[pos] = ci
        pos += len(ch.encode())
    b2c[pos] = len(context)
    answers = []
    for s0, s1 in spans:
        sep = [inp["sep"], inp["sep"]] if roberta else [inp["sep"]]
        ids = [inp["cls"]] + q + sep + c[s0:s1] + [inp["sep"]]
        ctx_at = len(q) + 1 + len(sep)
        types = [0] * len(ids) if roberta else [0] * ctx_at + [1] * (s1 - s0 + 1)
        bert.B, bert.T = 1, len(ids)
        bert_families.B, bert_families.T = 1, len(ids)
        with torch.no_grad():
            args = (w, torch.tensor([ids]), torch.tensor([types]), torch.zeros(1, len(ids), dtype=torch.bool))
            x = bert.encode(*args) if family == "bert" else bert_families.encode(family, *args)
            logits = (x @ w["qa_outputs.weight"].T + w["qa_outputs.bias"]).float().numpy()[0]
        start_, end_ = logits[:, 0], logits[:, 1]
        p_mask = np.array([0 if ctx_at <= j < ctx_at + (s1 - s0) else 1 for j in range(len(ids))])
        p_mask[0] = 0  # the [CLS] token stays unmasked
        undesired = np.abs(p_mask - 1)
        mask = undesired == 0
        start_ = np.where(mask, -10000.0, start_)
        end_ = np.where(mask, -10000.0, end_)
        start_ = np.exp(start_ - np.log(np.sum(np.exp(start_ - start_.max()))) - start_.max())
        end_ = np.exp(end_ - np.log(np.sum(np.exp(end_ - end_.max()))) - end_.max())
        start_[0] = end_[0] = 0.0
        outer = np.matmul(start_[:, None], end_[None, :])
        cand = np.tril(np.triu(outer), inp["max_answer_len"] - 1)
        flat = cand.flatten()
        order = np.argsort(-flat, kind="stable")[: inp["top_k"]]
        ss, ee = np.unravel_index(order, cand.shape)
        ctx_tokens = undesired.copy()
        ctx_tokens[0] = 0  # [CLS] is never part of an answer (p_mask aside, its probability is 0)
        for s, e in zip(ss, ee):
            if not (ctx_tokens[s] and ctx_tokens[e]):
                continue
            ts, te = s0 + s - ctx_at, s0 + e - ctx_at
            ws, we = words[ts], words[te]
            bstart = offsets[words.index(ws)][0]
            bend = offsets[len(words) - 1 - words[::-1].index(we)][1]
            answers.append({"answer": context[b2c[bstart]:b2c[bend]], "score": float(cand[s, e]),
                            "start": b2c[bstart], "end": b2c[bend]})
    answers = sorted(answers, key=lambda a: a["score"], reverse=True)[: inp["top_k"]]
    with open(os.path.join(testdata, prefix + "qa_answers.json"), "w") as f:
        json.dump(answers, f, indent=1)
    print(len(spans), "windows;", answers)


if __name__ == "__main__":
    main()
