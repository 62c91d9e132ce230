"""examples/export_mlp.py: trains the PyTorch tutorial's MLP on Fashion-MNIST
and exports its weights as safetensors, for examples/pytorch_mlp.lua.

  /usr/bin/python3 examples/export_mlp.py [--out mlp.safetensors] [--epochs 1] [--limit N]

The model is nn.Sequential(Flatten, Linear(784, 128), ReLU, Linear(128, 10)),
trained with SGD (lr 0.1, batch 64) on pixels in [0, 1]. The file is written
the way safetensors.torch.save_file writes it (the safetensors package is not
in Debian, so with json and the tensors' bytes), with the metadata
format = "pt" and PyTorch's test accuracy, which luann should reproduce.
"""
import argparse
import gzip
import json
import os
import struct

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist


def read_idx(name):
    with gzip.open(os.path.join(DATA, name)) as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def save_safetensors(path, tensors, metadata):
    header, blobs, at = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="mlp.safetensors")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--limit", type=int, default=None, help="train on the first N images")
    a = p.parse_args()
    torch.manual_seed(1)
    x = torch.from_numpy(read_idx("train-images-idx3-ubyte.gz")[:a.limit].astype(np.float32) / 255)
    y = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz")[:a.limit].astype(np.int64))
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(a.epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    tx = torch.from_numpy(read_idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255)
    ty = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    with torch.no_grad():
        correct = int((model(tx).argmax(1) == ty).sum())
    save_safetensors(a.out, model.state_dict(),
                     {"format": "pt", "test_correct": str(correct), "test_total": str(len(ty))})
    print(f"PyTorch: {correct}/{len(ty)} test images right; weights in {a.out}")


if __name__ == "__main__":
    main()
