"""bench/mnist.py: the MNIST tutorial program in PyTorch, for bench/mnist.sh.

Same settings as examples/mnist.lua (784-128-10 ReLU network, SGD lr 0.01,
cross entropy, shuffled batches of 64, 5 epochs) on Fashion-MNIST from the
Debian package, read with gzip + numpy (no torchvision here). Two ways to
feed it:
  --mode preloaded   the whole set as one tensor, batches by index (fastest)
  --mode dataloader  torch.utils.data.DataLoader over a TensorDataset
--limit N trains on the first N images (a smoke run of bench/run.sh);
--no-test skips the test pass, so that peak RSS is training's alone.
Prints the tutorial's "Epoch N, Loss: x" lines, then "Epoch times (s): ..."
and "Test accuracy: ..." in the same format as the Lua example.
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

ROOT = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(root, split):
    images = read_idx(f"{root}/{split}-images-idx3-ubyte.gz")
    labels = read_idx(f"{root}/{split}-labels-idx1-ubyte.gz")
    x = torch.from_numpy(images.astype(np.float32) / 255).view(-1, 1, 28, 28)
    return x, torch.from_numpy(labels.astype(np.int64))


class SimpleNN(nn.Module):
    def __init__(self):
        super(SimpleNN, self).__init__()
        self.fc1 = nn.Linear(28 * 28, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = x.view(-1, 28 * 28)
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


def batches(x, y, args, gen):
    if args.mode == "dataloader":
        ds = torch.utils.data.TensorDataset(x, y)
        yield from torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True,
                                               generator=gen)
        return
    perm = torch.randperm(len(x), generator=gen)
    for i in range(0, len(x), args.batch_size):
        idx = perm[i:i + args.batch_size]
        yield x[idx], y[idx]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["preloaded", "dataloader"], default="preloaded")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: default)")
    p.add_argument("--data", default=ROOT)
    p.add_argument("--limit", type=int, default=0, help="train on the first N images only (0: all)")
    p.add_argument("--no-test", action="store_true", help="skip the test pass (peak RSS of training alone)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x, y = load(args.data, "train")
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    model = SimpleNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr)
    times = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        for images, labels in batches(x, y, args, gen):
            optimizer.zero_grad()
            outputs = model(images)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - t0)
        print(f"Epoch {epoch + 1}, Loss: {loss.item()}")
    print("Epoch times (s): " + " ".join(f"{t:.3f}" for t in times))
    if args.no_test:
        return
    tx, ty = load(args.data, "t10k")
    with torch.no_grad():
        correct = (model(tx).argmax(1) == ty).sum().item()
    print(f"Test accuracy: {100 * correct / len(ty):.2f}% ({correct}/{len(ty)})")


if __name__ == "__main__":
    main()
