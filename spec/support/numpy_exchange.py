"""numpy_exchange.py: numpy's side of spec/npy_spec.lua.

  numpy_exchange.py write DIR   .npy files of every dtype luann loads, in
      both byte orders, C and Fortran order, format versions 1, 2 and 3, a
      0-d and an empty array; .npz archives by savez and savez_compressed.
      Each array holds arange(n) reshaped (minus 2 when signed, times 0.5
      when float, odd ones true when bool), so the spec knows its values.
  numpy_exchange.py check DIR   reads the .npy files luann wrote there with
      numpy.load and checks dtype, shape and values; prints "ok"
"""
import os
import sys

import numpy as np


def values(dtype, shape):
    n = int(np.prod(shape))
    a = np.arange(n)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        a = a % 2 == 1
    elif dt.kind == "f":
        a = a * 0.5
    elif dt.kind == "i":
        a = a - 2
    return a.reshape(shape).astype(dt)


def write(d):
    shape = (2, 3)
    for code in ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "b1"]:
        for order in "<>":
            if code in ("u1", "i1", "b1") and order == ">":
                continue
            np.save(os.path.join(d, f"{order.replace('<', 'le').replace('>', 'be')}_{code}.npy"),
                    values(order + code, shape))
    f = np.asfortranarray(values("<f8", (2, 3, 4)))
    assert f.flags.f_contiguous and not f.flags.c_contiguous
    np.save(os.path.join(d, "fortran_f8.npy"), f)
    np.save(os.path.join(d, "fortran_be_i4.npy"), np.asfortranarray(values(">i4", (3, 5))))
    for version in [(1, 0), (2, 0), (3, 0)]:
        with open(os.path.join(d, f"v{version[0]}_f4.npy"), "wb") as fh:
            np.lib.format.write_array(fh, values("<f4", (4, 2)), version=version)
    np.save(os.path.join(d, "scalar_f8.npy"), np.float64(2.5))
    np.save(os.path.join(d, "empty_f4.npy"), np.zeros((0, 3), dtype="<f4"))
    np.save(os.path.join(d, "wide_f4.npy"), values("<f4", (1,) * 8))
    arrays = {"w": values("<f4", (2, 3)), "b": values("<i8", (3,)), "m": values("|b1", (2, 2))}
    np.savez(os.path.join(d, "plain.npz"), **arrays)
    np.savez_compressed(os.path.join(d, "compressed.npz"), **arrays)
    np.savez(os.path.join(d, "positional.npz"), values("<f8", (2,)), values("<u2", (2,)))


def check(d):
    expect = {"f4": ("<f4", (2, 3)), "f8": ("<f8", (3, 2)), "i8": ("<i8", (4,)),
              "u1": ("|u1", (2, 2)), "b1": ("|b1", (5,)), "scalar": ("<f8", ()),
              "empty": ("<f4", (0, 4)), "strided": ("<f8", (3, 2))}
    for name, (dtype, shape) in expect.items():
        a = np.load(os.path.join(d, f"luann_{name}.npy"))
        want = values(dtype, shape)
        if name == "strided":
            want = values(dtype, (2, 3)).T
        assert a.dtype == np.dtype(dtype), (name, a.dtype)
        assert a.shape == shape, (name, a.shape)
        assert np.array_equal(a, want), (name, a, want)
        with open(os.path.join(d, f"luann_{name}.npy"), "rb") as fh:
            assert np.lib.format.read_magic(fh) == (1, 0), name
            header = np.lib.format.read_array_header_1_0(fh)
            assert header == (shape, False, np.dtype(dtype)), (name, header)
            assert fh.tell() % 64 == 0, (name, fh.tell())  # data aligned, as numpy writes
    print("ok")


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](sys.argv[2])
