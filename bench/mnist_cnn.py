"""bench/mnist_cnn.py: examples/mnist_cnn.lua's LeNet-5 in PyTorch, its twin.

The same network (conv 1->6 5x5 padding 2, ReLU, max-pool 2; conv 6->16 5x5,
ReLU, max-pool 2; linear 400->120->84->10 with ReLU between), inputs in
[0, 1], SGD with momentum 0.9, lr 0.01, shuffled batches of 64, on
Fashion-MNIST from the Debian package (read with gzip + numpy, as
bench/mnist.py does). Prints each epoch's mean loss, test accuracy and time,
then "Epoch times (s): ..." (training alone, as bench/mlp.lua --model lenet
times it) and "Test accuracy: x%" as the Lua example does.

    /usr/bin/python3 bench/mnist_cnn.py [--epochs 1] [--seed 1] [--threads N] [--limit N]
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from mnist import ROOT, load


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
                      for i in range(0, len(y), 1000))
    model.train()
    return correct / len(y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images only (0: all)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x, y = load(ROOT, "train")
    if a.limit:
        x, y = x[:a.limit], y[:a.limit]
    tx, ty = load(ROOT, "t10k")
    model = LeNet()
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9)
    acc, times = 0.0, []
    for epoch in range(1, a.epochs + 1):
        start, total, n = time.perf_counter(), 0.0, 0
        perm = torch.randperm(len(y))
        for i in range(0, len(y), a.batch_size):
            idx = perm[i:i + a.batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total, n = total + loss.item(), n + 1
        times.append(time.perf_counter() - start)  # training only: the test pass is not timed
        acc = accuracy(model, tx, ty)
        print(f"Epoch {epoch}, Loss: {total / n:.4f}, test accuracy {100 * acc:.2f}% ({times[-1]:.1f} s)")
    print("Epoch times (s): " + " ".join(f"{t:.3f}" for t in times))
    print(f"Test accuracy: {100 * acc:.2f}% ({round(acc * len(ty))}/{len(ty)})")


if __name__ == "__main__":
    main()
