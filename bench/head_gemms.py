#!/usr/bin/env python3
"""The LM head's three matrix products alone, at a step's shapes, in eager PyTorch (README, Speed).

Forward logits = h W^T (N x C times C x V), and backward's dh = G W and dW = G^T h, G the
softmax-minus-one-hot: the products the eager reference runs through LibTorch's BLAS (OpenBLAS on
Debian), as gpas does where its own kernels (core/model/head_gemm.cpp: AVX-512F) do not run.
Each timed alone, on one buffer of all N rows (best of --reps), so their sum is the least time a
step can spend on the head with these GEMMs, whatever is fused around them.

    python3 bench/head_gemms.py --vocab 32000 --hidden 64 --rows 1024 --threads 1
"""
import argparse
import time

import torch


def best_of(reps, f):
    f()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--rows", type=int, default=1024, help="tokens a step (batch x seq)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=7)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    n, c, v = a.rows, a.hidden, a.vocab
    h, w = torch.randn(n, c), torch.randn(v, c) * 0.02
    logits, dh, dw = torch.empty(n, v), torch.empty(n, c), torch.empty(v, c)
    flops = 2.0 * n * c * v
    sq = torch.randn(1024, 1024)
    products = [
        ("logits = h W^T", lambda: torch.mm(h, w.t(), out=logits)),
        ("dh = G W", lambda: torch.mm(logits, w, out=dh)),
        ("dW = G^T h", lambda: torch.mm(logits.t(), h, out=dw)),
    ]
    total = 0.0
    print(f"LM head GEMMs, {n} rows x hidden {c} x vocab {v}, {a.threads} thread(s), torch {torch.__version__}")
    for name, f in products:
        s = best_of(a.reps, f)
        total += s
        print(f"  {name:16s} {s * 1e3:8.1f} ms  {flops / s / 1e9:6.1f} GFLOP/s")
    print(f"  all three        {total * 1e3:8.1f} ms  ({3 * flops / 1e9:.2f} GFLOP)")
    s = best_of(a.reps, lambda: torch.mm(sq, sq))
    print(f"  torch.mm 1024^3  {2 * 1024 ** 3 / s / 1e9:6.1f} GFLOP/s")


if __name__ == "__main__":
    main()
