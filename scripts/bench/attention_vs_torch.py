#!/usr/bin/python3
"""Compare goformer's flash and plain attention with PyTorch's, same run.

Usage: /usr/bin/python3 scripts/bench/attention_vs_torch.py [--goformer PATH] [--seqs 256,1024,4096]

PyTorch's attention is written out as nanoGPT writes it (softmax(QKᵀ/√d) with
masked_fill, then ·V), on 2 threads, forward and backward; Debian's
python3-torch (1.13). Each is timed as the best of 5 batches of about 0.5 s
after a warm-up call, and the GFLOPS use the same count for all three: 4·d
FLOPs per visible (query, key) pair forward, 8·d more backward.
"""
import argparse, json, math, os, subprocess, sys, tempfile, time


def torch_ms(b, h, t, d, causal, backward, threads, seconds):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    q = torch.randn(b, h, t, d, requires_grad=backward)
    k = torch.randn(b, h, t, d, requires_grad=backward)
    v = torch.randn(b, h, t, d, requires_grad=backward)
    dy = torch.randn(b, h, t, d)
    mask = torch.tril(torch.ones(t, t)).view(1, 1, t, t)

    def f():
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))
        if causal:
            att = att.masked_fill(mask[:, :, :t, :t] == 0, float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = att @ v
        if backward:
            q.grad = k.grad = v.grad = None
            y.backward(dy)
    f()
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        el = time.perf_counter() - t0
        if el >= seconds / 4:
            reps = max(1, int(reps * seconds / el))
            break
        reps *= 4
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--goformer", help="path of a built goformer binary")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--seqs", default="256,1024,2048")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--no-causal", action="store_true")
    ap.add_argument("--forward-only", action="store_true")
    args = ap.parse_args()
    exe = args.goformer
    if not exe:
        exe = os.path.join(tempfile.mkdtemp(), "goformer")
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        subprocess.run(["go", "build", "-o", exe, "./cmd/goformer"], cwd=root, check=True)
    causal, backward = not args.no_causal, not args.forward_only
    b, h, d = args.batch, args.heads, args.dim
    print(f"B={b} H={h} d={d} causal={causal} {'forward+backward' if backward else 'forward'}, {args.threads} threads")
    print(f"{'T':>6} {'flash ms':>9} {'GFLOPS':>7} {'MiB':>7} {'plain ms':>9} {'MiB':>7} {'torch ms':>9} {'GFLOPS':>7} {'flash/torch':>11}")
    for t in [int(x) for x in args.seqs.split(",")]:
        def gf(plain):
            cmd = [exe, "bench", "attention", "--batch", str(b), "--heads", str(h), "--seq", str(t), "--dim", str(d),
                   "--threads", str(args.threads), "--seconds", str(args.seconds), "--json"]
            cmd += ["--causal"] if causal else []
            cmd += ["--backward"] if backward else []
            cmd += ["--plain"] if plain else []
            r = subprocess.run(cmd, capture_output=True, text=True)
            return json.loads(r.stdout) if r.returncode == 0 else None
        flash = gf(False)
        plain = gf(True) if t <= 4096 else None
        tms = torch_ms(b, h, t, d, causal, backward, args.threads, args.seconds) if t <= 4096 else None
        tg = flash["flops"] / (tms / 1e3) / 1e9 if tms else None
        fmt = lambda x, f: (f % x) if x is not None else "-"
        print(f"{t:>6} {flash['ms']:>9.2f} {flash['gflops']:>7.1f} {flash['extra_mib']:>7.1f} "
              f"{fmt(plain and plain['ms'], '%9.2f'):>9} {fmt(plain and plain['extra_mib'], '%7.1f'):>7} "
              f"{fmt(tms, '%9.2f'):>9} {fmt(tg, '%7.1f'):>7} {fmt(tms and tms / flash['ms'], '%11.2f'):>11}", flush=True)


if __name__ == "__main__":
    main()
