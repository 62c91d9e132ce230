"""bench/conv.py: PyTorch's float32 conv2d speed, for bench/conv.sh.

  python3 bench/conv.py THREADS SAMPLES CONFIG...
  python3 bench/conv.py THREADS -ITERS CONFIG      (ITERS fwd+bwd, untimed)
  python3 bench/conv.py --info                    (what this torch runs on)

The same measurement as bench/conv.lua: a CONFIG is
name=N,C,HW,O,K,PAD,STRIDE; prints "name fwd MS" (torch.no_grad) and
"name fwdbwd MS" (forward, then backward with a fixed output gradient into
input, weight and bias, whose .grad is reset to None after each call),
each the median over SAMPLES samples of ~0.2 s batches.
"""
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def parse(spec):
    name, rest = spec.split("=")
    n, c, hw, o, k, pad, stride = map(int, rest.split(","))
    return dict(name=name, n=n, c=c, hw=hw, o=o, k=k, pad=pad, stride=stride)


def operands(cfg, grad):
    x = torch.randn(cfg["n"], cfg["c"], cfg["hw"], cfg["hw"], requires_grad=grad)
    w = torch.randn(cfg["o"], cfg["c"], cfg["k"], cfg["k"], requires_grad=grad)
    b = torch.randn(cfg["o"], requires_grad=grad)
    return x, w, b


def forward_fn(cfg):
    x, w, b = operands(cfg, False)

    def f():
        with torch.no_grad():
            return F.conv2d(x, w, b, cfg["stride"], cfg["pad"])
    return f


def backward_fn(cfg):
    x, w, b = operands(cfg, True)
    with torch.no_grad():
        dy = torch.randn_like(F.conv2d(x, w, b, cfg["stride"], cfg["pad"]))

    def f():
        y = F.conv2d(x, w, b, cfg["stride"], cfg["pad"])
        y.backward(dy)
        x.grad = w.grad = b.grad = None
    return f


def time_ms(f, samples):
    f()  # warm-up: oneDNN primitive creation, allocator
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        t = time.perf_counter() - t0
        if t > 0.05:
            break
        reps *= 4
    reps = max(1, int(reps * 0.2 / t) + 1)
    ms = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        ms.append((time.perf_counter() - t0) / reps * 1e3)
    return statistics.median(ms)


def info():
    a = torch.randn(64, 64)
    torch.matmul(a, a)  # loads the BLAS torch links, if it was not yet
    blas = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            if "libblas" in line or "openblas" in line or "blis" in line:
                blas.add(line.split()[-1])
    print("torch", torch.__version__,
          "| mkldnn available", torch.backends.mkldnn.is_available(),
          "| default threads", torch.get_num_threads(),
          "|", " ".join(line.strip(" -") for line in torch.__config__.show().splitlines()
                        if "CPU capability" in line) or "CPU capability ?")
    print("BLAS mapped after a matmul:", ", ".join(sorted(blas)) or "none")


def main():
    if sys.argv[1:] == ["--info"]:
        info()
        return
    threads, samples = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    if samples <= 0:
        f = backward_fn(parse(sys.argv[3]))
        for _ in range(-samples):
            f()
        return
    for spec in sys.argv[3:]:
        cfg = parse(spec)
        print("%s fwd %.3f" % (cfg["name"], time_ms(forward_fn(cfg), samples)))
        print("%s fwdbwd %.3f" % (cfg["name"], time_ms(backward_fn(cfg), samples)))


if __name__ == "__main__":
    main()
