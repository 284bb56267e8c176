#!/usr/bin/python3
"""Compare goformer's GEMM with numpy (OpenBLAS) on the same shapes, same run.

Usage: /usr/bin/python3 scripts/bench/gemm_vs_numpy.py [--goformer PATH] [--threads 2] [--quick]

Needs Debian's python3-numpy with OpenBLAS (apt-get install python3-numpy
libopenblas0-pthread). Builds ./cmd/goformer unless --goformer is given.
For each shape it times C = op(A)·op(B) in float32 with both, each as the
best of 5 batches of about 0.25 s after a warm-up call, and prints GFLOPS and
the ratio goformer / numpy.
"""
import argparse, json, os, subprocess, sys, tempfile, time

SQUARE = [(512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048)]
# Transformer shapes, M×K·K×N, as (m, n, k).
TRANSFORMER = [(768, 384, 128), (768, 128, 384), (4096, 1152, 384), (4096, 384, 1536), (4096, 65, 384)]


def numpy_worker(seconds):
    """Runs in a child process, so that OPENBLAS_NUM_THREADS takes effect:
    reads one shape per line on stdin, answers with its GFLOPS."""
    import numpy as np
    rng = np.random.default_rng(1)
    for line in sys.stdin:
        m, n, k, ta, tb = json.loads(line)
        a = rng.random((k, m) if ta else (m, k), dtype=np.float32)
        b = rng.random((n, k) if tb else (k, n), dtype=np.float32)
        A = a.T if ta else a
        B = b.T if tb else b
        c = np.empty((m, n), dtype=np.float32)
        f = lambda: np.matmul(A, B, out=c)
        f()
        reps = 1
        while True:
            t = time.perf_counter()
            for _ in range(reps):
                f()
            el = time.perf_counter() - t
            if el >= seconds / 4 or reps >= 1 << 20:
                reps = max(1, int(reps * seconds / max(el, 1e-6)))
                break
            reps *= 4
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(reps):
                f()
            best = min(best, (time.perf_counter() - t) / reps)
        print(json.dumps(2 * m * n * k / best / 1e9), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--goformer", help="path of a built goformer binary")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--single", action="store_true", help="also compare with one thread")
    ap.add_argument("--quick", action="store_true", help="square shapes only")
    ap.add_argument("--seconds", type=float, default=0.25)
    ap.add_argument("--numpy-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.numpy_worker:
        numpy_worker(args.seconds)
        return

    exe = args.goformer
    if not exe:
        exe = os.path.join(tempfile.mkdtemp(), "goformer")
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        subprocess.run(["go", "build", "-o", exe, "./cmd/goformer"], cwd=root, check=True)

    shapes = []
    for m, n, k in SQUARE:
        shapes.append((m, n, k, False, False))
    if not args.quick:
        for m, n, k in TRANSFORMER:
            for ta, tb in ((False, False), (True, False), (False, True)):
                shapes.append((m, n, k, ta, tb))
    thread_counts = [args.threads] + ([1] if args.single else [])
    print(f"{'shape (M×K·K×N)':<24} {'op':<5} {'thr':>3} {'goformer':>9} {'numpy':>9} {'ratio':>6}")
    ratios = []
    for threads in thread_counts:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        worker = subprocess.Popen([sys.executable, __file__, "--numpy-worker", "--seconds", str(args.seconds)],
                                  env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for m, n, k, ta, tb in shapes:
            # Interleaved: numpy, then goformer, for each shape, so that a
            # disturbance of the machine hits both alike.
            worker.stdin.write(json.dumps([m, n, k, ta, tb]) + "\n")
            worker.stdin.flush()
            ng = json.loads(worker.stdout.readline())
            cmd = [exe, "bench", "gemm", "-m", str(m), "-n", str(n), "-k", str(k),
                   "--threads", str(threads), "--seconds", str(args.seconds), "--json"]
            if ta:
                cmd.append("-ta")
            if tb:
                cmd.append("-tb")
            g = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)["gflops"]
            op = ("Aᵀ·B" if ta else "A·Bᵀ" if tb else "A·B")
            ratios.append(g / ng)
            print(f"{f'{m}×{k}·{k}×{n}':<24} {op:<5} {threads:>3} {g:>9.1f} {ng:>9.1f} {g / ng:>6.2f}", flush=True)
        worker.stdin.close()
        worker.wait()
    print(f"lowest ratio {min(ratios):.2f}, geometric mean {pow(__import__('math').prod(ratios), 1 / len(ratios)):.2f}")


if __name__ == "__main__":
    main()
