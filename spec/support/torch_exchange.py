"""torch_exchange.py: PyTorch's side of spec/safetensors_spec.lua.

Writes and reads safetensors files with json and the tensors' bytes alone
(the safetensors package is not in Debian), so the format is checked against
an independent writer and reader.

  torch_exchange.py write DIR DTYPE    an MLP's and a CNN's state dicts
      (DIR/mlp.safetensors, DIR/cnn.safetensors, format "pt"), an input
      for each (DIR/mlp_x.npy, DIR/cnn_x.npy) and PyTorch's logits on it
      (DIR/mlp_y.npy, DIR/cnn_y.npy); DTYPE is float32 or float64
  torch_exchange.py read DIR DTYPE     loads the state dicts luann wrote
      (DIR/mlp.safetensors, ...) strictly into the same models, runs them
      on luann's inputs (DIR/mlp_x.npy, ...) and writes the logits to
      DIR/mlp_y.npy, DIR/cnn_y.npy
  torch_exchange.py dtypes PATH        one tensor of each dtype the format
      has that luann loads, with the values spec/safetensors_spec.lua expects
  torch_exchange.py layouts            "model key shape" lines of the state
      dicts of layers spec/safetensors_spec.lua builds in luann too
"""
import json
import struct
import sys

import numpy as np
import torch
from torch import nn

CODES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
         torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
         torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}
NUMPY_CODES = {np.dtype("uint16"): "U16", np.dtype("uint32"): "U32"}
TORCH_OF = {"F64": torch.float64, "F32": torch.float32, "I64": torch.int64,
            "U8": torch.uint8, "BOOL": torch.bool}


def raw_bytes(t):
    """The tensor's row-major little-endian bytes (bfloat16 through int16)."""
    if isinstance(t, np.ndarray):
        return np.ascontiguousarray(t).astype(t.dtype.newbyteorder("<")).tobytes()
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors, metadata=None):
    header, blobs, at = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name]
        code = NUMPY_CODES[t.dtype] if isinstance(t, np.ndarray) else CODES[t.dtype]
        data = raw_bytes(t)
        header[name] = {"dtype": code, "shape": list(t.shape),
                        "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    data, out = raw[8 + n:], {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        dtype = TORCH_OF[e["dtype"]]
        arr = np.frombuffer(data[begin:end], dtype=torch.empty(0, dtype=dtype).numpy().dtype)
        out[name] = torch.from_numpy(arr.copy()).reshape(e["shape"])
    return out, metadata


class CNN(nn.Module):
    """Conv, batch norm, pooling and linear layers, children under names and
    in a Sequential (PyTorch numbers those from 0)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                                      nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3))
        self.fc = nn.Linear(6 * 2 * 2, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.features(x)).flatten(1))


def models(dtype):
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).to(dtype)
    cnn = CNN().to(dtype)
    # running statistics that are not the defaults, so that loading them counts
    bn = cnn.features[1]
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2.0)
    bn.num_batches_tracked.fill_(7)
    return {"mlp": mlp.eval(), "cnn": cnn.eval()}


def inputs(dtype):
    torch.manual_seed(1)
    return {"mlp": torch.randn(4, 5, dtype=dtype), "cnn": torch.randn(2, 1, 8, 8, dtype=dtype)}


def layouts():
    ms = {
        "lstm": nn.LSTM(3, 4, num_layers=2, bidirectional=True),
        "gru": nn.GRU(3, 5),
        "rnncell": nn.LSTMCell(3, 4),
        "mha": nn.MultiheadAttention(8, 2),
        "encoder": nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16), 2),
        "decoder": nn.TransformerDecoderLayer(8, 2, dim_feedforward=16),
        "misc": nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4), nn.GroupNorm(2, 4),
                              nn.ConvTranspose2d(4, 3, 2), nn.PReLU(), nn.BatchNorm1d(3),
                              nn.Conv1d(3, 2, 3), nn.Conv2d(2, 6, 3, groups=2)),
    }
    for name, m in ms.items():
        for k, v in m.state_dict().items():
            print(name, k, "x".join(str(s) for s in v.shape) or "scalar")


def main():
    cmd = sys.argv[1]
    if cmd == "layouts":
        layouts()
        return
    if cmd == "dtypes":
        vals = [-3, -1, 0, 1, 2, 100]
        tensors = {
            "f64": torch.tensor([0.1, -2.5, 1e300], dtype=torch.float64),
            "f32": torch.tensor([0.1, -2.5, 3e38], dtype=torch.float32),
            "f16": torch.tensor([0.1, -2.5, 65504, 6e-8, float("inf")], dtype=torch.float16),
            "bf16": torch.tensor([0.1, -2.5, 3e38, float("-inf")], dtype=torch.bfloat16),
            "i64": torch.tensor([-(2 ** 62), -1, 2 ** 62], dtype=torch.int64),
            "i32": torch.tensor([-(2 ** 31), -1, 2 ** 31 - 1], dtype=torch.int32),
            "i16": torch.tensor([-32768, -1, 32767], dtype=torch.int16),
            "i8": torch.tensor(vals[:5] + [-128], dtype=torch.int8).reshape(2, 3),
            "u8": torch.tensor([0, 1, 255], dtype=torch.uint8),
            "u16": np.array([0, 1, 65535], dtype=np.uint16),
            "u32": np.array([0, 1, 4294967295], dtype=np.uint32),
            "bool": torch.tensor([True, False, True]),
            "empty": torch.zeros(0, 3),
            "scalar": torch.tensor(4.5, dtype=torch.float64),
        }
        write_safetensors(sys.argv[2], tensors, {"source": "torch_exchange.py"})
        return
    d, dtype = sys.argv[2], getattr(torch, sys.argv[3])
    ms = models(dtype)
    for name, model in ms.items():
        if cmd == "write":
            write_safetensors(f"{d}/{name}.safetensors", model.state_dict(), {"format": "pt"})
            x = inputs(dtype)[name]
            np.save(f"{d}/{name}_x.npy", x.numpy())
        else:
            sd, metadata = read_safetensors(f"{d}/{name}.safetensors")
            assert metadata.get("format") == "pt", metadata
            for k, v in sd.items():
                assert v.dtype == dtype or k.endswith("num_batches_tracked"), (k, v.dtype)
            model.load_state_dict(sd, strict=True)
            x = torch.from_numpy(np.load(f"{d}/{name}_x.npy"))
        with torch.no_grad():
            np.save(f"{d}/{name}_y.npy", model(x).numpy())
    print("ok")


if __name__ == "__main__":
    main()
