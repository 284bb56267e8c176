#!/usr/bin/python3
"""Translation speed: goformer against PyTorch's nn.Transformer, same model, same sentences, same run.

Usage: /usr/bin/python3 scripts/bench/translate_vs_torch.py --model runs/multi30k-de-en/model
           [--goformer PATH] [--src FILE.de[.gz]] [--ref FILE.en[.gz]] [--threads 2] [--batch 64]

The PyTorch side is torch.nn.Transformer (norm_first=True for a pre-LN/Pegasus
model, False for post-LN/Marian) of the model's size, loaded with the model's
own weights (model.safetensors), with the same embedding scale, sinusoidal
positions, tied output projection and final_logits_bias. It greedy-decodes
the same token ids (written by `goformer tokenizer encode --lines`) the way
PyTorch's translation tutorial does: the decoder runs over the whole prefix
at every step (nn.Transformer has no KV cache), sentences batched by length.
goformer translates the same file greedily and with beam 4 (KV cache), and
the script prints sentences/s, the ratios, BLEU of each output, and how many
greedy outputs are identical between the two implementations (they share the
weights, so they should agree but for float rounding ties).
"""
import argparse, gzip, json, math, os, re, subprocess, sys, tempfile, time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
import st  # noqa: E402


def read_lines(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f]


def sinusoids(n, d):
    # Marian/Pegasus layout: sin in the first half, cos in the second.
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(d // 2, dtype=torch.float64)[None, :]
    ang = pos / torch.pow(10000.0, 2 * i / d)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1).float()


class Seq2Seq(nn.Module):
    def __init__(self, cfg, w):
        super().__init__()
        d = cfg["d_model"]
        self.cfg, self.d = cfg, d
        pre = cfg["model_type"] == "pegasus"
        self.t = nn.Transformer(d_model=d, nhead=cfg["encoder_attention_heads"], num_encoder_layers=cfg["encoder_layers"],
                                num_decoder_layers=cfg["decoder_layers"], dim_feedforward=cfg["encoder_ffn_dim"], dropout=0.0,
                                activation=cfg.get("activation_function", "relu"), batch_first=True, norm_first=pre)
        if not pre:  # post-LN stacks have no final norm
            self.t.encoder.norm, self.t.decoder.norm = None, None
        self.emb = w["model.shared.weight"]
        self.scale = math.sqrt(d) if cfg.get("scale_embedding", True) else 1.0
        self.pos = w.get("model.encoder.embed_positions.weight", sinusoids(cfg["max_position_embeddings"], d))
        self.bias = w.get("final_logits_bias", torch.zeros(1, cfg["vocab_size"]))[0]
        sd = {}

        def attn(dst, src):
            sd[dst + ".in_proj_weight"] = torch.cat([w[src + ".q_proj.weight"], w[src + ".k_proj.weight"], w[src + ".v_proj.weight"]])
            sd[dst + ".in_proj_bias"] = torch.cat([w[src + ".q_proj.bias"], w[src + ".k_proj.bias"], w[src + ".v_proj.bias"]])
            sd[dst + ".out_proj.weight"], sd[dst + ".out_proj.bias"] = w[src + ".out_proj.weight"], w[src + ".out_proj.bias"]

        def lin(dst, src):
            sd[dst + ".weight"], sd[dst + ".bias"] = w[src + ".weight"], w[src + ".bias"]

        for i in range(cfg["encoder_layers"]):
            p, q = f"encoder.layers.{i}", f"model.encoder.layers.{i}"
            attn(p + ".self_attn", q + ".self_attn")
            lin(p + ".linear1", q + ".fc1"); lin(p + ".linear2", q + ".fc2")
            lin(p + ".norm1", q + ".self_attn_layer_norm"); lin(p + ".norm2", q + ".final_layer_norm")
        for i in range(cfg["decoder_layers"]):
            p, q = f"decoder.layers.{i}", f"model.decoder.layers.{i}"
            attn(p + ".self_attn", q + ".self_attn"); attn(p + ".multihead_attn", q + ".encoder_attn")
            lin(p + ".linear1", q + ".fc1"); lin(p + ".linear2", q + ".fc2")
            lin(p + ".norm1", q + ".self_attn_layer_norm"); lin(p + ".norm2", q + ".encoder_attn_layer_norm")
            lin(p + ".norm3", q + ".final_layer_norm")
        if pre:
            lin("encoder.norm", "model.encoder.layer_norm"); lin("decoder.norm", "model.decoder.layer_norm")
        missing, unexpected = self.t.load_state_dict(sd, strict=False)
        assert not unexpected and not missing, (missing, unexpected)

    def embed(self, ids):
        return self.emb[ids] * self.scale + self.pos[: ids.shape[1]]

    @torch.no_grad()
    def greedy(self, src, pad, eos, start, max_len):
        src_pad = src == pad
        memory = self.t.encoder(self.embed(src), src_key_padding_mask=src_pad)
        ys = torch.full((src.shape[0], 1), start, dtype=torch.long)
        done = torch.zeros(src.shape[0], dtype=torch.bool)
        out = [[] for _ in range(src.shape[0])]
        for step in range(max_len + 1):
            mask = self.t.generate_square_subsequent_mask(ys.shape[1])
            h = self.t.decoder(self.embed(ys), memory, tgt_mask=mask, memory_key_padding_mask=src_pad)
            logits = h[:, -1] @ self.emb.T + self.bias
            nxt = logits.argmax(-1)
            for r in range(src.shape[0]):
                if done[r]:
                    continue
                t = int(nxt[r])
                if t == eos or step == max_len:
                    done[r] = True
                else:
                    out[r].append(t)
            if bool(done.all()):
                break
            ys = torch.cat([ys, nxt[:, None]], dim=1)
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--goformer", default="")
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "..", "data", "multi30k")
    ap.add_argument("--src", default=os.path.join(data, "test_2016_flickr.de.gz"))
    ap.add_argument("--ref", default=os.path.join(data, "test_2016_flickr.en.gz"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64, help="PyTorch: sentences per batch")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gf = args.goformer
    tmp = tempfile.mkdtemp()
    if not gf:
        gf = os.path.join(tmp, "goformer")
        subprocess.run(["go", "build", "-o", gf, "./cmd/goformer"], check=True, cwd=os.path.join(here, "..", ".."))
    src_lines, ref_lines = read_lines(args.src), read_lines(args.ref)
    src_file, ref_file = os.path.join(tmp, "src.txt"), os.path.join(tmp, "ref.txt")
    open(src_file, "w", encoding="utf-8").write("\n".join(src_lines) + "\n")
    open(ref_file, "w", encoding="utf-8").write("\n".join(ref_lines) + "\n")

    cfg = json.load(open(os.path.join(args.model, "config.json")))
    w = st.load(os.path.join(args.model, "model.safetensors"))
    model = Seq2Seq(cfg, w).eval()
    enc = subprocess.run([gf, "tokenizer", "encode", "--model", args.model, "--lines"], input=open(src_file, "rb").read(),
                         capture_output=True, check=True).stdout.decode().splitlines()
    ids = [[int(x) for x in l.split()] + [cfg["eos_token_id"]] for l in enc]
    pad, eos, start = cfg["pad_token_id"], cfg["eos_token_id"], cfg["decoder_start_token_id"]

    # PyTorch greedy, batched by length as goformer batches.
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    torch_out = [None] * len(ids)
    t0 = time.perf_counter()
    for b in range(0, len(order), args.batch):
        idx = order[b:b + args.batch]
        longest = max(len(ids[i]) for i in idx)
        src = torch.full((len(idx), longest), pad, dtype=torch.long)
        for r, i in enumerate(idx):
            src[r, : len(ids[i])] = torch.tensor(ids[i])
        max_len = min(int(1.5 * longest) + 10, cfg["max_position_embeddings"] - 1)
        for r, o in zip(idx, model.greedy(src, pad, eos, start, max_len)):
            torch_out[r] = o
    torch_s = time.perf_counter() - t0
    dec = subprocess.run([gf, "tokenizer", "decode", "--model", args.model, "--lines"],
                         input=("\n".join(" ".join(map(str, o)) for o in torch_out) + "\n").encode(),
                         capture_output=True, check=True).stdout.decode().splitlines()
    torch_hyp = os.path.join(tmp, "torch.en")
    open(torch_hyp, "w", encoding="utf-8").write("\n".join(s.strip() for s in dec) + "\n")

    def goformer(beam):
        t = time.perf_counter()
        p = subprocess.run([gf, "translate", "--model", args.model, "--beam", str(beam), "--threads", str(args.threads)],
                           input=open(src_file, "rb").read(), capture_output=True, check=True)
        wall = time.perf_counter() - t
        m = re.search(r"in ([0-9.]+)s", p.stderr.decode())
        out = os.path.join(tmp, f"goformer.beam{beam}.en")
        open(out, "wb").write(p.stdout)
        return float(m.group(1)) if m else wall, wall, out

    def bleu(path):
        p = subprocess.run([gf, "bleu", "--ref", ref_file, "--json"], stdin=open(path, "rb"), capture_output=True, check=True)
        return json.loads(p.stdout)

    n = len(ids)
    g1, g1wall, g1out = goformer(1)
    g4, g4wall, g4out = goformer(4)
    same = sum(a.strip() == b.strip() for a, b in zip(open(g1out, encoding="utf-8"), open(torch_hyp, encoding="utf-8")))
    rows = [("PyTorch nn.Transformer greedy (no cache)", torch_s, bleu(torch_hyp)),
            ("goformer greedy (KV cache)", g1, bleu(g1out)),
            ("goformer beam 4 (KV cache)", g4, bleu(g4out))]
    print(f"{n} sentences, {args.threads} threads, torch {torch.__version__}, model {args.model}")
    for name, s, b in rows:
        print(f"  {name:42s} {s:7.2f} s  {n / s:7.1f} sentences/s  BLEU {b['bleu']:.2f}  chrF2 {b['chrf']:.2f}")
    print(f"  goformer greedy / PyTorch greedy: {torch_s / g1:.2f}x;  goformer beam 4 / PyTorch greedy: {torch_s / g4:.2f}x")
    print(f"  greedy outputs identical in both: {same}/{n}")
    print(f"  (goformer wall times with process start and model load: greedy {g1wall:.2f} s, beam 4 {g4wall:.2f} s)")


if __name__ == "__main__":
    main()
