#!/usr/bin/python3
"""PyTorch reference values for luann's conv, pool, norm, recurrent,
attention, resize and tensor ops specs, written once as Lua data files so the specs
need no torch.

Regenerate (Debian 12: apt-get install python3-torch) from the repository root:

    /usr/bin/python3 spec/reference/make_reference.py

Generated with torch 1.13.0a0 (Debian's python3-torch 1.13.1+dfsg-4), float64.

Conventions of every file (`return { <case name> = case, ... }`):
- A tensor is {shape = {...}, data = {...}}: data flat in row-major order,
  float64 written as Python's repr (shortest text that reads back to the same
  double; -inf as -1/0); int64 and bool tensors add dtype = "int64"/"bool".
- Indices (max pool return_indices) are PyTorch's: 0-based flat indices into
  each (n, c) plane (L for 1-d pools, H*W for 2-d ones). nonzero's are 0-based
  per dim, and dims in options (flip, roll, tile) are 0-based too.
- Inputs, parameters and upstream gradients are x.flat[i] =
  round(scale * sin(0.7 * i + c), 4) with c taken from the tensor's name, so
  they read back exactly and need no random generator (max pools use a
  permutation instead, so that each window has one maximum).
- A functional case: op (the torch.nn.functional name), options (the kwargs
  as passed to PyTorch), inputs (tensors by PyTorch's parameter names),
  output or outputs (by PyTorch's documented names), grad_output or
  grad_outputs, and grads: d/d(each float input but masks) of
  sum(output * grad_output), summed over every float output.
- A module case: module (the torch.nn class), module_options (the
  constructor's kwargs), parameters and buffers (by state_dict names), options
  (the forward's non-tensor kwargs), then as above; grads are keyed by input
  name or parameter name. Recurrent states are inputs h_0 (and c_0); cells
  give output (GRUCell, RNNCell) or outputs h_1, c_1 (LSTMCell).
- Resize cases where torch's backward is not the adjoint of its forward
  store the adjoint and torch_backward_differs = true (see resize_cases).
- Batch norm cases hold steps = { {mode = "train" or "eval", inputs, output,
  grad_output, grads, buffers (after the step)}, ... } after the module's
  parameters and initial buffers.
"""
import math
import os
import re
import warnings
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))


# ---- deterministic tensors -------------------------------------------------

def phase(name):
    """A stable per-tensor constant, so that each tensor gets other values."""
    return (zlib.crc32(name.encode()) % 10000) / 1000.0


def seq(name, shape, scale=1.0):
    n = math.prod(shape)
    c = phase(name)
    vals = [round(scale * math.sin(0.7 * i + c), 4) for i in range(n)]
    return torch.tensor(vals).reshape(shape)


def distinct(name, shape):
    """A permutation of (k - n/2) / 4, k < n: distinct and exact in binary."""
    n = math.prod(shape)
    p = next(q for q in range(int(n * 0.618) + 1, 10 * n + 2)
             if math.gcd(q, n) == 1)
    off = zlib.crc32(name.encode()) % n
    vals = [((i * p + off) % n - n / 2) / 4 for i in range(n)]
    return torch.tensor(vals).reshape(shape)


def set_parameters(module, prefix, scale=0.5):
    with torch.no_grad():
        for pname, p in module.named_parameters():
            p.copy_(seq(prefix + "/" + pname, tuple(p.shape), scale))


def enc(t):
    t = t.detach()
    out = {"shape": list(t.shape)}
    if t.dtype == torch.bool:
        out["dtype"] = "bool"
    elif t.dtype == torch.int64:
        out["dtype"] = "int64"
    out["data"] = t.flatten().tolist()
    return out


def backward(name, outputs, wrt):
    """Upstream gradients for the float outputs, and the grads of
    sum(output * grad_output) with respect to wrt (name -> leaf tensor)."""
    g = {k: seq(name + "/grad_" + k, tuple(v.shape))
         for k, v in outputs.items() if v.is_floating_point()}
    for t in wrt.values():
        t.grad = None
    loss = sum((outputs[k] * g[k]).sum() for k in g)
    loss.backward()
    grads = {k: enc(t.grad) for k, t in wrt.items()}
    return g, grads


def add_results(case, name, outputs, wrt):
    """Fills output(s), grad_output(s) and grads; a single output is `output`."""
    g, grads = backward(name, outputs, wrt)
    if list(outputs) == ["output"]:
        case["output"] = enc(outputs["output"])
        case["grad_output"] = enc(g["output"])
    else:
        case["outputs"] = {k: enc(v) for k, v in outputs.items()}
        case["grad_outputs"] = {k: enc(v) for k, v in g.items()}
    case["grads"] = grads
    return case


def run(fn, inputs, output_names):
    """fn(**leaves) on copies of the inputs (None: absent), float ones
    requiring grad; its results by output name."""
    leaves = {k: v.clone().requires_grad_(v.is_floating_point())
              for k, v in inputs.items() if v is not None}
    result = fn(**leaves)
    if not isinstance(result, tuple):
        result = (result,)
    return leaves, dict(zip(output_names, result))


def functional(name, op, inputs, options, output_names=("output",), fn=None):
    """F.<op>(**inputs, **options), or fn in place of F.<op>."""
    fn = fn or getattr(F, op)
    leaves, outputs = run(lambda **t: fn(**t, **options), inputs, output_names)
    case = {"op": op, "options": options,
            "inputs": {k: enc(v) for k, v in leaves.items()}}
    wrt = {k: v for k, v in leaves.items() if v.requires_grad}
    return add_results(case, name, outputs, wrt)


def module_case(name, cls, module_options, inputs, call, output_names,
                options=None):
    """A module built with module_options, parameters set by formula, run as
    call(module, **leaves); grads for float inputs and every parameter."""
    m = getattr(nn, cls)(**module_options)
    set_parameters(m, name)
    leaves, outputs = run(lambda **t: call(m, **t), inputs, output_names)
    case = {"module": cls, "module_options": module_options,
            "parameters": {k: enc(p) for k, p in m.named_parameters()}}
    if options:
        case["options"] = options
    case["inputs"] = {k: enc(v) for k, v in leaves.items()}
    wrt = {k: v for k, v in leaves.items() if v.requires_grad}
    wrt.update(dict(m.named_parameters()))
    return add_results(case, name, outputs, wrt)


# ---- conv ------------------------------------------------------------------

def conv_cases():
    cases = {}

    def conv(name, op, x, w, b, **options):
        cases[name] = functional(name, op, {
            "input": seq(name + "/input", x),
            "weight": seq(name + "/weight", w, 0.5),
            "bias": b and seq(name + "/bias", b, 0.5)}, options)

    # The spec checks this one by hand: input 1..9, all-ones 3x3 kernel.
    cases["conv2d_ones_hand"] = functional("conv2d_ones_hand", "conv2d", {
        "input": torch.arange(1.0, 10.0).reshape(1, 1, 3, 3),
        "weight": torch.ones(1, 1, 3, 3)}, {"padding": 1})
    conv("conv2d_plain", "conv2d", (2, 2, 4, 5), (3, 2, 3, 3), (3,),
         stride=1, padding=0, dilation=1, groups=1)
    conv("conv2d_stride2_padding", "conv2d", (1, 3, 7, 6), (2, 3, 3, 2), (2,),
         stride=[2, 2], padding=[1, 0], dilation=[1, 1], groups=1)
    conv("conv2d_stride_2_3", "conv2d", (1, 2, 6, 8), (3, 2, 2, 3), (3,),
         stride=[2, 3], padding=[0, 2])
    conv("conv2d_dilation2", "conv2d", (1, 2, 7, 7), (2, 2, 3, 3), (2,),
         dilation=2, padding=1)
    conv("conv2d_groups2", "conv2d", (2, 4, 4, 3), (6, 2, 2, 2), (6,),
         groups=2)
    conv("conv2d_depthwise", "conv2d", (1, 3, 5, 5), (3, 1, 3, 3), (3,),
         groups=3, padding=1)
    conv("conv2d_depthwise_multiplier2", "conv2d", (1, 3, 5, 4),
         (6, 1, 2, 2), (6,), groups=3)
    conv("conv2d_same_odd", "conv2d", (1, 2, 4, 5), (3, 2, 3, 3), (3,),
         padding="same")
    # total padding dilation*(k-1) = 2 rows, 3 columns: PyTorch puts the odd
    # extra column on the right.
    conv("conv2d_same_even_dilation", "conv2d", (1, 2, 5, 6), (2, 2, 2, 4),
         (2,), padding="same", dilation=[2, 1])
    conv("conv2d_valid", "conv2d", (1, 2, 5, 6), (2, 2, 3, 2), (2,),
         padding="valid")
    conv("conv2d_no_bias", "conv2d", (1, 2, 4, 4), (3, 2, 3, 3), None,
         stride=1, padding=1)
    conv("conv1d_stride_padding", "conv1d", (2, 3, 9), (4, 3, 3), (4,),
         stride=2, padding=2)
    conv("conv1d_dilation_groups", "conv1d", (1, 4, 10), (6, 2, 3), (6,),
         dilation=2, groups=2, padding=1)
    conv("conv1d_same_even", "conv1d", (1, 2, 7), (3, 2, 4), (3,),
         padding="same")
    conv("conv1d_no_bias", "conv1d", (1, 3, 6), (2, 3, 2), None, stride=3)
    # conv_transpose weight is (C_in, C_out / groups, kH, kW).
    conv("conv_transpose2d_stride2_outpad", "conv_transpose2d", (1, 2, 3, 3),
         (2, 3, 3, 3), (3,), stride=2, padding=1, output_padding=1)
    conv("conv_transpose2d_groups2", "conv_transpose2d", (1, 4, 3, 3),
         (4, 2, 2, 2), (4,), groups=2)
    conv("conv_transpose2d_dilation2", "conv_transpose2d", (1, 2, 3, 3),
         (2, 2, 3, 3), (2,), dilation=2)
    conv("conv_transpose2d_no_bias", "conv_transpose2d", (1, 2, 3, 4),
         (2, 2, 3, 2), None, stride=[2, 1], padding=[0, 1],
         output_padding=[1, 0])

    def unfold(name, x, **options):
        cases[name] = functional(name, "unfold",
                                 {"input": seq(name + "/input", x)}, options)

    unfold("unfold_plain", (2, 2, 4, 4), kernel_size=2)
    unfold("unfold_all_options", (1, 2, 5, 4), kernel_size=[2, 3],
           dilation=[1, 2], padding=1, stride=[2, 1])

    def fold(name, x, **options):
        cases[name] = functional(name, "fold",
                                 {"input": seq(name + "/input", x)}, options)

    fold("fold_plain", (1, 8, 12), output_size=[4, 5], kernel_size=2)
    fold("fold_stride_padding", (2, 9, 9), output_size=5, kernel_size=3,
         stride=2, padding=1)
    fold("fold_dilation", (1, 4, 6), output_size=[4, 5], kernel_size=[2, 2],
         dilation=[2, 2], stride=1)
    return cases


# ---- pool ------------------------------------------------------------------

def pool_cases():
    cases = {}

    def pool(name, op, x, outputs=("output",), values=seq, **options):
        cases[name] = functional(name, op, {"input": values(name + "/input", x)},
                                 options, outputs)

    mx = dict(values=distinct, outputs=("output", "indices"),
              return_indices=True)
    pool("max_pool1d_stride_padding", "max_pool1d", (2, 3, 8),
         kernel_size=3, stride=2, padding=1, **mx)
    pool("max_pool1d_dilation_ceil", "max_pool1d", (1, 2, 10),
         kernel_size=2, stride=2, dilation=2, ceil_mode=True, **mx)
    pool("max_pool1d_no_indices", "max_pool1d", (1, 2, 7), values=distinct,
         kernel_size=2)
    pool("max_pool2d_plain", "max_pool2d", (2, 2, 4, 4), kernel_size=2, **mx)
    pool("max_pool2d_overlap", "max_pool2d", (1, 2, 5, 5), kernel_size=3,
         stride=1, padding=1, **mx)
    pool("max_pool2d_stride_padding", "max_pool2d", (1, 2, 6, 5),
         kernel_size=[3, 2], stride=[2, 1], padding=[1, 0], **mx)
    pool("max_pool2d_dilation", "max_pool2d", (1, 1, 6, 6), kernel_size=2,
         stride=1, dilation=2, **mx)
    pool("max_pool2d_ceil_false", "max_pool2d", (1, 2, 5, 5), kernel_size=2,
         stride=2, ceil_mode=False, **mx)
    pool("max_pool2d_ceil_true", "max_pool2d", (1, 2, 5, 5), kernel_size=2,
         stride=2, ceil_mode=True, **mx)
    # ceil would give 4 windows, but the last would start in the padding:
    # PyTorch drops it, so the output is 3x3.
    pool("max_pool2d_ceil_drop_last", "max_pool2d", (1, 1, 5, 5),
         kernel_size=2, stride=2, padding=1, ceil_mode=True, **mx)
    pool("max_pool2d_no_indices", "max_pool2d", (1, 2, 4, 6), values=distinct,
         kernel_size=[2, 3], stride=[1, 2])

    pool("avg_pool2d_plain", "avg_pool2d", (2, 2, 4, 4), kernel_size=2)
    pool("avg_pool2d_padding_include", "avg_pool2d", (1, 2, 5, 5),
         kernel_size=3, stride=2, padding=1, count_include_pad=True)
    pool("avg_pool2d_padding_exclude", "avg_pool2d", (1, 2, 5, 5),
         kernel_size=3, stride=2, padding=1, count_include_pad=False)
    # With ceil_mode the last window runs past the padding; its divisor counts
    # only input and padding, not the part beyond.
    pool("avg_pool2d_ceil_include", "avg_pool2d", (1, 1, 6, 6),
         kernel_size=3, stride=2, padding=1, ceil_mode=True,
         count_include_pad=True)
    pool("avg_pool2d_ceil_exclude", "avg_pool2d", (1, 1, 6, 6),
         kernel_size=3, stride=2, padding=1, ceil_mode=True,
         count_include_pad=False)
    pool("avg_pool2d_ceil_drop_last", "avg_pool2d", (1, 1, 5, 5),
         kernel_size=2, stride=2, padding=1, ceil_mode=True)
    pool("avg_pool2d_rect", "avg_pool2d", (1, 2, 5, 6), kernel_size=[2, 3],
         stride=[1, 2], padding=[1, 0])
    pool("avg_pool2d_divisor_override", "avg_pool2d", (1, 1, 4, 4),
         kernel_size=2, padding=1, divisor_override=3)

    pool("adaptive_avg_pool2d_dividing", "adaptive_avg_pool2d", (2, 2, 6, 4),
         output_size=[3, 2])
    pool("adaptive_avg_pool2d_not_dividing", "adaptive_avg_pool2d",
         (1, 2, 5, 7), output_size=[3, 4])
    pool("adaptive_avg_pool2d_int_size", "adaptive_avg_pool2d", (1, 1, 7, 5),
         output_size=3)
    pool("adaptive_max_pool2d_dividing", "adaptive_max_pool2d", (1, 2, 6, 4),
         output_size=[3, 2], **mx)
    pool("adaptive_max_pool2d_not_dividing", "adaptive_max_pool2d",
         (2, 1, 5, 7), output_size=[3, 4], **mx)
    return cases


# ---- norm ------------------------------------------------------------------

def batch_norm(name, cls, shape, affine):
    """Three training steps on three inputs, then one eval step. Each step's
    grads are of that step alone (zeroed before it); buffers are those after
    the step. weight and bias (when affine) are set by formula, the initial
    buffers are PyTorch's (zeros, ones, 0); step k's input is 2 * seq + k/2,
    so that the running mean moves."""
    options = {"num_features": shape[1], "eps": 1e-5, "momentum": 0.1,
               "affine": affine, "track_running_stats": True}
    m = getattr(nn, cls)(**options)
    set_parameters(m, name)
    case = {"module": cls, "module_options": options,
            "parameters": {k: enc(p) for k, p in m.named_parameters()},
            "buffers": {k: enc(b) for k, b in m.named_buffers()},
            "steps": []}
    for step, mode in enumerate(["train", "train", "train", "eval"], 1):
        m.train(mode == "train")
        x = seq("%s/input%d" % (name, step), shape, 2.0) + step * 0.5
        x.requires_grad_(True)
        wrt = {"input": x}
        wrt.update(dict(m.named_parameters()))
        s = {"mode": mode, "inputs": {"input": enc(x)}}
        add_results(s, "%s/step%d" % (name, step), {"output": m(x)}, wrt)
        s["buffers"] = {k: enc(b) for k, b in m.named_buffers()}
        case["steps"].append(s)
    return case


def norm_cases():
    cases = {}
    for cls, shape in [("BatchNorm1d", (4, 3)), ("BatchNorm2d", (2, 3, 2, 2))]:
        dims = "%dd" % len(shape)
        for affine in (True, False):
            name = "batch_norm_%s_%s" % (dims, "affine" if affine else "no_affine")
            cases[name] = batch_norm(name, cls, shape, affine)
    # BatchNorm1d also takes (N, C, L).
    cases["batch_norm_3d_affine"] = batch_norm("batch_norm_3d_affine",
                                               "BatchNorm1d", (2, 3, 4), True)

    def layer_norm(name, x, normalized_shape, affine, eps):
        w = seq(name + "/weight", normalized_shape, 0.5) if affine else None
        b = seq(name + "/bias", normalized_shape, 0.5) if affine else None
        cases[name] = functional(name, "layer_norm", {
            "input": seq(name + "/input", x, 2.0), "weight": w, "bias": b},
            {"normalized_shape": normalized_shape, "eps": eps})

    layer_norm("layer_norm_last_dim_affine", (2, 3, 4), [4], True, 1e-5)
    layer_norm("layer_norm_last_dim_no_affine", (2, 3, 4), [4], False, 1e-5)
    layer_norm("layer_norm_two_dims_affine", (2, 3, 4), [3, 4], True, 1e-3)
    layer_norm("layer_norm_two_dims_no_affine", (2, 2, 3, 2), [3, 2], False,
               0.1)

    def group_norm(name, x, groups, affine, eps=1e-5):
        c = (x[1],)
        cases[name] = functional(name, "group_norm", {
            "input": seq(name + "/input", x, 2.0),
            "weight": seq(name + "/weight", c, 0.5) if affine else None,
            "bias": seq(name + "/bias", c, 0.5) if affine else None},
            {"num_groups": groups, "eps": eps})

    group_norm("group_norm_1_group", (2, 4, 3, 2), 1, True)
    group_norm("group_norm_2_groups", (2, 4, 3, 2), 2, True)
    group_norm("group_norm_C_groups", (2, 4, 3, 2), 4, True)
    group_norm("group_norm_2_groups_no_affine", (2, 4, 5), 2, False, 1e-3)
    return cases


# ---- recurrent ---------------------------------------------------------------

def recurrent(name, cls, initial_state, **module_options):
    """A 2-layer recurrent module; seq 3, batch 2, input 3, hidden 2."""
    opts = {"input_size": 3, "hidden_size": 2, "num_layers": 2}
    opts.update(module_options)
    dirs = 2 if opts.get("bidirectional") else 1
    bf = opts.get("batch_first")
    inputs = {"input": seq(name + "/input", (2, 3, 3) if bf else (3, 2, 3))}
    state = (opts["num_layers"] * dirs, 2, 2)
    lstm = cls == "LSTM"
    if initial_state:
        inputs["h_0"] = seq(name + "/h_0", state, 0.5)
        if lstm:
            inputs["c_0"] = seq(name + "/c_0", state, 0.5)

    def call(m, input, h_0=None, c_0=None):
        hx = (h_0, c_0) if lstm and h_0 is not None else h_0
        output, h_n = m(input, hx)
        return (output,) + (h_n if lstm else (h_n,))

    outputs = ("output", "h_n", "c_n") if lstm else ("output", "h_n")
    return module_case(name, cls, opts, inputs, call, outputs)


def cell(name, cls, initial_state, **module_options):
    """One step of a cell; batch 2, input 2, hidden 3; outputs h_1 (, c_1)."""
    opts = {"input_size": 2, "hidden_size": 3}
    opts.update(module_options)
    lstm = cls == "LSTMCell"
    inputs = {"input": seq(name + "/input", (2, 2))}
    if initial_state:
        inputs["h_0"] = seq(name + "/h_0", (2, 3), 0.5)
        if lstm:
            inputs["c_0"] = seq(name + "/c_0", (2, 3), 0.5)

    def call(m, input, h_0=None, c_0=None):
        return m(input, (h_0, c_0) if lstm and h_0 is not None else h_0)

    outputs = ("h_1", "c_1") if lstm else ("output",)
    return module_case(name, cls, opts, inputs, call, outputs)


def recurrent_cases():
    cases = {}
    specs = [
        ("lstm", "LSTM", False, {}),
        ("lstm_batch_first_init", "LSTM", True, {"batch_first": True}),
        ("lstm_bidirectional", "LSTM", False, {"bidirectional": True}),
        ("lstm_bidirectional_batch_first_init", "LSTM", True,
         {"bidirectional": True, "batch_first": True}),
        ("gru_init", "GRU", True, {}),
        ("gru_bidirectional_batch_first", "GRU", False,
         {"bidirectional": True, "batch_first": True}),
        ("rnn_tanh", "RNN", False, {"nonlinearity": "tanh"}),
        ("rnn_tanh_bidirectional_init", "RNN", True,
         {"nonlinearity": "tanh", "bidirectional": True, "batch_first": True}),
        ("rnn_relu_batch_first_init", "RNN", True,
         {"nonlinearity": "relu", "batch_first": True}),
        ("rnn_relu_bidirectional", "RNN", False,
         {"nonlinearity": "relu", "bidirectional": True}),
    ]
    for name, cls, init, opts in specs:
        cases[name] = recurrent(name, cls, init, **opts)
    cases["lstm_cell"] = cell("lstm_cell", "LSTMCell", True)
    cases["lstm_cell_no_state"] = cell("lstm_cell_no_state", "LSTMCell", False)
    cases["gru_cell"] = cell("gru_cell", "GRUCell", True)
    cases["gru_cell_no_state"] = cell("gru_cell_no_state", "GRUCell", False)
    cases["rnn_cell_tanh"] = cell("rnn_cell_tanh", "RNNCell", True)
    cases["rnn_cell_relu"] = cell("rnn_cell_relu", "RNNCell", True,
                                  nonlinearity="relu")
    return cases


# ---- attention ---------------------------------------------------------------

def sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False):
    """torch 1.13 has no F.scaled_dot_product_attention (2.0 does): this is
    its documented formula. A bool mask is True where attention is allowed
    (the opposite of nn.MultiheadAttention's), is_causal is the lower
    triangle, and a float mask is added to the scores. It agrees bit for bit
    with 1.13's private F._scaled_dot_product_attention, which sdpa_case
    checks when it is there."""
    assert dropout_p == 0.0
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])
    L, S = scores.shape[-2:]
    if is_causal:
        scores = scores.masked_fill(~torch.ones(L, S, dtype=torch.bool).tril(),
                                    float("-inf"))
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    elif attn_mask is not None:
        scores = scores + attn_mask
    return torch.softmax(scores, -1) @ value


def attention_cases():
    cases = {}

    def sdpa_case(name, q, k, v, mask=None, **options):
        qkv = {"query": seq(name + "/query", q), "key": seq(name + "/key", k),
               "value": seq(name + "/value", v)}
        cases[name] = functional(name, "scaled_dot_product_attention",
                                 dict(qkv, attn_mask=mask), options, fn=sdpa)
        if mask is not None and mask.is_floating_point():
            del cases[name]["grads"]["attn_mask"]  # masks are constants
        private = getattr(F, "_scaled_dot_product_attention", None)
        if private:
            got = private(*qkv.values(), mask, 0.0, False,
                          options.get("is_causal", False))[0]
            assert torch.equal(got, sdpa(**qkv, attn_mask=mask, **options))

    sdpa_case("sdpa_3d", (2, 3, 4), (2, 4, 4), (2, 4, 5))
    sdpa_case("sdpa_4d_float_mask", (1, 2, 3, 4), (1, 2, 4, 4), (1, 2, 4, 4),
              seq("sdpa_4d_float_mask/attn_mask", (3, 4)))
    sdpa_case("sdpa_bool_mask", (2, 3, 4), (2, 4, 4), (2, 4, 4),
              torch.tensor([[True, True, False, True],
                            [False, True, True, True],
                            [True, False, False, False]]))
    sdpa_case("sdpa_is_causal", (1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4),
              is_causal=True, dropout_p=0.0)

    def mha(name, batch_first, L=3, S=4, key_padding_mask=None,
            attn_mask=None, **options):
        N, E = 2, 4
        shape = (lambda T: (N, T, E)) if batch_first else (lambda T: (T, N, E))
        inputs = {"query": seq(name + "/query", shape(L)),
                  "key": seq(name + "/key", shape(S)),
                  "value": seq(name + "/value", shape(S)),
                  "key_padding_mask": key_padding_mask,
                  "attn_mask": attn_mask}
        opts = {"need_weights": True, "average_attn_weights": True}
        opts.update(options)

        def call(m, **t):
            return m(**t, **opts)

        cases[name] = module_case(
            name, "MultiheadAttention",
            {"embed_dim": E, "num_heads": 2, "dropout": 0.0, "bias": True,
             "batch_first": batch_first},
            inputs, call, ("attn_output", "attn_output_weights"), opts)
        cases[name]["grads"].pop("attn_mask", None)

    causal = torch.ones(3, 3, dtype=torch.bool).triu(1)  # True = masked out
    mha("mha_seq_first", False)
    mha("mha_batch_first", True)
    mha("mha_key_padding_mask", True, key_padding_mask=torch.tensor(
        [[False, False, True, False], [False, False, False, True]]))
    mha("mha_causal_bool_mask", False, L=3, S=3, attn_mask=causal)
    mha("mha_float_attn_mask", True,
        attn_mask=seq("mha_float_attn_mask/attn_mask", (3, 4)))
    mha("mha_per_head_weights", True, average_attn_weights=False)

    def encoder_layer(name, norm_first, activation, src_mask=None,
                      src_key_padding_mask=None):
        opts = {"d_model": 4, "nhead": 2, "dim_feedforward": 6,
                "dropout": 0.0, "activation": activation,
                "layer_norm_eps": 1e-5, "batch_first": True,
                "norm_first": norm_first}
        inputs = {"src": seq(name + "/src", (2, 3, 4)), "src_mask": src_mask,
                  "src_key_padding_mask": src_key_padding_mask}
        cases[name] = module_case(name, "TransformerEncoderLayer", opts,
                                  inputs, lambda m, **t: m(**t), ("output",))
        cases[name]["grads"].pop("src_mask", None)

    encoder_layer("encoder_layer_post_relu", False, "relu")
    encoder_layer("encoder_layer_pre_gelu", True, "gelu")
    encoder_layer("encoder_layer_post_gelu_causal", False, "gelu",
                  src_mask=torch.full((3, 3), float("-inf")).triu(1))
    encoder_layer("encoder_layer_pre_relu_padding", True, "relu",
                  src_key_padding_mask=torch.tensor(
                      [[False, False, False], [False, True, False]]))
    return cases


# ---- resize -------------------------------------------------------------------

def adjoint(fn, x, g):
    """The gradient of sum(fn(x) * g) for a linear fn, from its forward
    alone: entry k is sum(fn(e_k) * g), e_k the k-th one-hot input."""
    flat = torch.zeros(x.numel())
    for k in range(x.numel()):
        e = torch.zeros(x.numel())
        e[k] = 1.0
        flat[k] = (fn(e.reshape(x.shape)) * g).sum()
    return flat.reshape(x.shape)


def resize_cases():
    """F.interpolate: every mode, size and scale_factor forms, up and down,
    both align_corners. Options left out are PyTorch's defaults.

    torch 1.13's nearest backward does not always pick the rows its forward
    picks (it rounds in float32 where a float64 forward does not, and copies
    where the size stays even with a scale_factor): where its gradient is not
    the adjoint of its forward, the case stores the adjoint and says so with
    torch_backward_differs = true. The linear modes' gradients agree."""
    cases = {}

    def interp(name, shape, **options):
        x = seq(name + "/input", shape)
        case = functional(name, "interpolate", {"input": x}, options)
        g = torch.tensor(case["grad_output"]["data"]).reshape(case["grad_output"]["shape"])
        true = adjoint(lambda t: F.interpolate(t, **options), x, g)
        torch_grad = torch.tensor(case["grads"]["input"]["data"]).reshape(shape)
        if not torch.allclose(true, torch_grad, rtol=1e-12, atol=1e-12):
            assert options.get("mode", "nearest").startswith("nearest"), name
            case["grads"]["input"] = enc(true)
            case["torch_backward_differs"] = True
        cases[name] = case

    interp("nearest_1d_size_up", (2, 2, 5), size=8)
    interp("nearest_1d_size_down", (1, 3, 9), size=4)
    interp("nearest_2d_size_mixed", (1, 2, 7, 3), size=[4, 5])
    interp("nearest_2d_scale_2", (1, 2, 3, 4), scale_factor=2.0)
    interp("nearest_2d_scale_fractional", (2, 1, 5, 4), scale_factor=[1.5, 0.6])
    interp("nearest_2d_scale_recompute", (2, 1, 5, 4), scale_factor=[1.5, 0.6],
           recompute_scale_factor=True)
    # a given scale_factor sets the rows even where the size stays (floor(4 *
    # 1.2) = 4): output 3 reads row floor(3 / 1.2) = 2 (linear modes copy)
    interp("nearest_1d_scale_same_size", (1, 1, 4), scale_factor=1.2)
    # PyTorch's nearest rows are floorf(dst * r), not exact arithmetic:
    # output 33 reads row 15 though 33 / 2.2 is 14.999...98 in float64; from
    # 2 to 82, output 41 reads row 1 in float64 (41 * (2/82) = 1) but row 0
    # in float32 (0.99999994), which the spec checks by hand.
    interp("nearest_1d_float32_scale", (1, 1, 16), scale_factor=2.2)
    interp("nearest_1d_float32_size", (1, 1, 2), size=82)
    interp("nearest_3d_scale", (1, 2, 2, 3, 4), scale_factor=[2.0, 1.5, 0.5])
    interp("nearest_exact_2d_size", (1, 2, 5, 4), size=[3, 7], mode="nearest-exact")
    interp("nearest_exact_1d_scale", (1, 1, 7), scale_factor=1.7, mode="nearest-exact")
    for align in (False, True):
        tag = "align" if align else "no_align"
        interp("linear_size_up_" + tag, (2, 2, 5), size=8, mode="linear",
               align_corners=align)
        interp("linear_scale_down_" + tag, (1, 2, 9), scale_factor=0.4,
               mode="linear", align_corners=align)
        interp("bilinear_size_up_" + tag, (1, 2, 3, 4), size=[5, 7],
               mode="bilinear", align_corners=align)
        interp("bilinear_size_down_" + tag, (2, 1, 7, 9), size=[3, 4],
               mode="bilinear", align_corners=align)
        interp("bilinear_size_mixed_" + tag, (1, 2, 4, 6), size=[7, 3],
               mode="bilinear", align_corners=align)
        interp("bilinear_scale_2_" + tag, (1, 2, 3, 3), scale_factor=2.0,
               mode="bilinear", align_corners=align)
        interp("bilinear_scale_fractional_" + tag, (1, 2, 5, 6),
               scale_factor=[1.7, 0.6], mode="bilinear", align_corners=align)
        interp("bilinear_size_1_" + tag, (1, 1, 4, 5), size=[1, 3],
               mode="bilinear", align_corners=align)
        interp("trilinear_size_" + tag, (1, 2, 3, 2, 4), size=[5, 3, 2],
               mode="trilinear", align_corners=align)
    interp("bilinear_scale_recompute", (1, 2, 5, 6), scale_factor=[1.7, 0.6],
           mode="bilinear", recompute_scale_factor=True)
    # the size does not change (floor(4 * 1.2) = 4): PyTorch copies
    interp("bilinear_scale_same_size", (1, 1, 4, 4), scale_factor=1.2,
           mode="bilinear")
    interp("linear_default_align", (1, 2, 6), size=4, mode="linear")
    return cases


# ---- tensor ops ------------------------------------------------------------

def tensor_ops_cases():
    """flip, roll, repeat, tile, nonzero and einsum. Options are PyTorch's:
    dims 0-based (the spec adds 1), nonzero's indices 0-based."""
    cases = {}

    def op(name, fn_name, shape, fn, **options):
        cases[name] = functional(name, fn_name,
                                 {"input": seq(name + "/input", shape)},
                                 options, fn=fn)

    op("flip_first_last", "flip", (2, 3, 4), torch.flip, dims=[0, 2])
    op("flip_negative", "flip", (3, 2), torch.flip, dims=[-1])
    op("roll_flat", "roll", (2, 3, 2), torch.roll, shifts=4)
    op("roll_two_dims", "roll", (2, 3, 4), torch.roll, shifts=[1, -2],
       dims=[0, 2])
    op("roll_past_size", "roll", (3, 4), torch.roll, shifts=7, dims=1)
    repeat = lambda input, sizes: input.repeat(*sizes)
    op("repeat_same_dims", "repeat", (2, 3), repeat, sizes=[2, 3])
    op("repeat_new_dims", "repeat", (2, 3), repeat, sizes=[2, 1, 1, 2])
    op("tile_fewer_dims", "tile", (2, 3, 2), torch.tile, dims=[2])
    op("tile_more_dims", "tile", (3, 2), torch.tile, dims=[2, 1, 2])

    def nonzero(name, x, as_tuple):
        out = torch.nonzero(x, as_tuple=as_tuple)
        cases[name] = {"op": "nonzero", "options": {"as_tuple": as_tuple},
                       "inputs": {"input": enc(x)}}
        if as_tuple:
            cases[name]["outputs"] = [enc(t) for t in out]
        else:
            cases[name]["output"] = enc(out)

    x = seq("nonzero/input", (3, 4, 2)).clamp(min=0)  # about half are 0
    nonzero("nonzero_3d", x, False)
    nonzero("nonzero_3d_tuple", x, True)
    nonzero("nonzero_none", torch.zeros(2, 3), False)

    def einsum(name, equation, *shapes):
        names = ["a", "b"][:len(shapes)]
        inputs = {k: seq(name + "/" + k, sh) for k, sh in zip(names, shapes)}
        cases[name] = functional(
            name, "einsum", inputs, {"equation": equation},
            fn=lambda equation, **t: torch.einsum(equation, *t.values()))

    einsum("einsum_matmul", "ij,jk->ik", (2, 3), (3, 4))
    einsum("einsum_bmm", "bij,bjk->bik", (2, 2, 3), (2, 3, 2))
    einsum("einsum_diagonal", "ii->i", (3, 3))
    einsum("einsum_trace", "ii", (3, 3))
    einsum("einsum_transpose", "ij->ji", (2, 3))
    einsum("einsum_dot", "i,i->", (4,), (4,))
    einsum("einsum_outer", "i,j->ij", (3,), (2,))
    einsum("einsum_ellipsis_broadcast", "...ij,...jk->...ik", (2, 1, 2, 3),
           (3, 3, 2))
    einsum("einsum_implicit_sorted", "kj,ji", (2, 3), (3, 2))
    einsum("einsum_implicit_upper", "bA,Ac", (2, 3), (3, 2))
    einsum("einsum_diagonal_times", "iij,jk->ik", (2, 2, 3), (3, 2))
    einsum("einsum_sum_first", "ijk,k->i", (2, 3, 4), (4,))
    einsum("einsum_broadcast_size1", "ij,jk->ik", (2, 1), (3, 4))
    einsum("einsum_ellipsis_sum", "...i,i", (2, 3, 4), (4,))
    einsum("einsum_batch_outer", "bi,bj->bij", (2, 3), (2, 2))
    return cases


# ---- Lua output --------------------------------------------------------------

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def number(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if math.isinf(v):
        return "1/0" if v > 0 else "-1/0"
    assert not math.isnan(v)
    return repr(float(v))


def lua(v, indent=""):
    if isinstance(v, dict):
        inner = indent + "  "
        items = []
        for k, x in v.items():
            key = k if IDENT.match(k) else "[%s]" % lua(k)
            items.append("%s%s = %s,\n" % (inner, key, lua(x, inner)))
        return "{\n" + "".join(items) + indent + "}"
    if isinstance(v, (list, tuple)):
        lines, line = [], []
        for x in v:
            line.append(lua(x, indent))
            if sum(len(s) + 2 for s in line) > 90:
                lines.append(", ".join(line))
                line = []
        if line:
            lines.append(", ".join(line))
        if len(lines) <= 1:
            return "{" + "".join(lines) + "}"
        inner = indent + "  "
        return "{\n" + "".join(inner + s + ",\n" for s in lines) + indent + "}"
    if isinstance(v, str):
        return '"%s"' % v
    return number(v)


HEADER = """-- %s.lua: PyTorch reference values, generated by make_reference.py with
-- torch %s in float64; do not edit, regenerate. Tensors are {shape, data}
-- with data flat and row-major; indices are PyTorch's, 0-based flat indices
-- into each (n, c) plane. grads are d/d(input or parameter) of
-- sum(output * grad_output) over every float output. See make_reference.py.
"""


def write(family, cases):
    path = os.path.join(HERE, family + ".lua")
    with open(path, "w") as f:
        f.write(HEADER % (family, torch.__version__))
        f.write("return " + lua(cases) + "\n")
    print("%-14s %3d cases %7d bytes" % (family, len(cases),
                                          os.path.getsize(path)))


def main():
    torch.use_deterministic_algorithms(True)
    # conv2d_same_even_dilation means it: padding="same", even kernel.
    warnings.filterwarnings("ignore", "Using padding='same' with even")
    write("conv", conv_cases())
    write("pool", pool_cases())
    write("norm", norm_cases())
    write("recurrent", recurrent_cases())
    write("attention", attention_cases())
    write("resize", resize_cases())
    write("tensor_ops", tensor_ops_cases())


if __name__ == "__main__":
    main()
