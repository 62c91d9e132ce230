"""bench/torch_info.py: what PyTorch runs on, and its matmul rate, for bench/run.sh.

Prints "key: value" lines: torch's version, the libblas.so.3 it resolved and
the BLAS library behind it (read from /proc/self/maps after a matmul, so
the alternatives system's choice is what shows), torch.get_num_threads(),
OPENBLAS_NUM_THREADS, and the median GFLOP/s of float32 torch.matmul at
M x K x N (each sample ~0.2 s of products, as bench/matmul_blis.c times BLIS).

    /usr/bin/python3 bench/torch_info.py [--threads N] [--size 2048x2048x2048] [--samples 3]
"""
import argparse
import os
import statistics
import time

import torch


def blas_libraries():
    """The mapped files of this process whose names mention blas."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "blas" in line and "/" in line}
    return sorted(paths)


def matmul_gflops(m, k, n, samples):
    a, b = torch.randn(m, k), torch.randn(k, n)
    torch.matmul(a, b)  # warm-up
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.matmul(a, b)
        t = time.perf_counter() - t0
        if t > 0.05:
            break
        reps *= 4
    reps = max(1, int(reps * 0.2 / t) + 1)
    rates = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.matmul(a, b)
        rates.append(2.0 * m * n * k * reps / (time.perf_counter() - t0) * 1e-9)
    return statistics.median(rates)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: default)")
    p.add_argument("--size", default="2048x2048x2048")
    p.add_argument("--samples", type=int, default=3)
    o = p.parse_args()
    if o.threads:
        torch.set_num_threads(o.threads)
    m, k, n = map(int, o.size.split("x"))
    gflops = matmul_gflops(m, k, n, o.samples)
    libs = blas_libraries()
    libblas = [x for x in libs if os.path.basename(x) == "libblas.so.3"]
    print(f"torch: {torch.__version__}")
    print(f"libblas.so.3: {' '.join(libblas) or 'not mapped'}")
    print(f"blas libraries: {' '.join(os.path.basename(x) for x in libs)}")
    print(f"get_num_threads: {torch.get_num_threads()}")
    print(f"OPENBLAS_NUM_THREADS: {os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print(f"matmul {o.size} GFLOP/s: {gflops:.2f}")


if __name__ == "__main__":
    main()
