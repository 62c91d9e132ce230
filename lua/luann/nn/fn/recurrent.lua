--- Recurrent layers for nn.functional, composed from luann's ops, so that
-- autograd derives the backward pass from the parts and they run on every
-- device with no kernels of their own.
--
-- Parameters follow PyTorch's layouts: w_ih (G*hidden, in), w_hh
-- (G*hidden, hidden), b_ih and b_hh (G*hidden), with G gates stacked in
-- PyTorch's order: 1 for RNN, 4 for LSTM (i, f, g, o), 3 for GRU (r, z, n).
-- An LSTM state is the list {h, c}, where PyTorch has the tuple (h, c).
--
-- Speed: a layer projects its whole input sequence with one GEMM
-- (x W_ih^T + b_ih for all timesteps), then runs one GEMM per step for
-- h W_hh^T + b_hh covering every gate; the gates are narrow views of it.
-- @usage local h1 = F.gru_cell(x, h0, w_ih, w_hh, b_ih, b_hh)
-- local out, state = F.lstm(x, {h0, c0}, params, {num_layers = 2})
local luann = require "luann"
local check = require "luann.utils.check"

-- ---- steps: one timestep given the input projection xg = x W_ih^T + b_ih ----

-- h' = tanh(xg + h W_hh^T + b_hh)
local function tanh_step(xg, h, _, w_hh, b_hh)
  return luann.tanh(xg + luann.linear(h, w_hh, b_hh))
end

-- h' = relu(xg + h W_hh^T + b_hh)
local function relu_step(xg, h, _, w_hh, b_hh)
  return luann.relu(xg + luann.linear(h, w_hh, b_hh))
end

-- i, f, g, o = split(xg + h W_hh^T + b_hh); c' = s(f) c + s(i) tanh(g);
-- h' = s(o) tanh(c'). One sigmoid over all four gates (g's quarter unused)
-- costs less than three narrow launches.
local function lstm_step(xg, h, c, w_hh, b_hh)
  local gates = xg + luann.linear(h, w_hh, b_hh)
  local n = h:size(-1)
  local d = gates:dim()
  local sig = luann.sigmoid(gates)
  local i, f, o = sig:narrow(d, 1, n), sig:narrow(d, n + 1, n), sig:narrow(d, 3 * n + 1, n)
  local g = luann.tanh(gates:narrow(d, 2 * n + 1, n))
  local c1 = f * c + i * g
  return o * luann.tanh(c1), c1
end

-- r, z = s(x_rz + h_rz); n = tanh(x_n + r (h W_hn^T + b_hn));
-- h' = (1 - z) n + z h = n + z (h - n)
local function gru_step(xg, h, _, w_hh, b_hh)
  local hg = luann.linear(h, w_hh, b_hh)
  local n = h:size(-1)
  local d = hg:dim()
  local rz = luann.sigmoid(xg:narrow(d, 1, 2 * n) + hg:narrow(d, 1, 2 * n))
  local r, z = rz:narrow(d, 1, n), rz:narrow(d, n + 1, n)
  local new = luann.tanh(xg:narrow(d, 2 * n + 1, n) + r * hg:narrow(d, 2 * n + 1, n))
  return new + z * (h - new)
end

local modes = {
  rnn_tanh = { step = tanh_step, gates = 1 },
  rnn_relu = { step = relu_step, gates = 1 },
  lstm = { step = lstm_step, gates = 4, cell = true },
  gru = { step = gru_step, gates = 3 },
}

-- ---- a whole sequence ---------------------------------------------------------

-- The steps of t along dim as views, out[first], out[first + 1], ...
-- The backward of a select or narrow is a zero tensor of the whole input
-- with the window's gradient copied in, so T selects from one tensor cost
-- O(T^2) in backward; halving it first down to 8 steps makes that
-- O(T log T) (LSTM backward at T = 400, hidden 128, batch 16: 2.4 s -> 0.44 s).
local function slices(t, dim, first, out)
  local count = t:size(dim)
  if count <= 8 then
    for k = 1, count do out[first + k - 1] = t:select(dim, k) end
    return out
  end
  local half = count // 2
  slices(t:narrow(dim, 1, half), dim, first, out)
  return slices(t:narrow(dim, half + 1, count - half), dim, first + half, out)
end

-- Whether core/op_lstm.c's one-node layer takes these: one float dtype
-- and one device for the input and the state.
local function lstm_fusable(x, h, c, p)
  if x.dtype ~= "float32" and x.dtype ~= "float64" then return false end
  for _, t in ipairs({ h, c, p[1], p[2] }) do
    if t.dtype ~= x.dtype or t.device ~= x.device then return false end
  end
  return true
end

-- The input projection with both biases (x W_ih^T + b_ih + b_hh), every
-- step at once.
local function lstm_gates(x, p)
  local b = p[3]
  if p[4] ~= nil then b = b and b + p[4] or p[4] end
  return luann.linear(x, p[1], b)
end

-- One LSTM layer as one op (core/op_lstm.c): the hidden states (time along
-- tdim), h_n and c_n, views of the op's flat result.
local function run_lstm(x, tdim, h, c, p, reverse)
  local xg = lstm_gates(x, p)
  local flat = luann._lstm(xg, p[2], h, c, tdim == 2, reverse)
  local B, T, H = h:size(1), x:size(tdim), h:size(2)
  local n = B * T * H
  local ys = flat:narrow(1, 1, n):view(tdim == 2 and B or T, tdim == 2 and T or B, H)
  return ys, ys:select(tdim, reverse and 1 or T), flat:narrow(1, n + 1, B * H):view(B, H)
end

-- Runs one layer in one direction over x (time along tdim); returns the
-- stacked hidden states and the last h and c.
local function run_direction(mode, x, tdim, h, c, p, reverse)
  if mode == modes.lstm and lstm_fusable(x, h, c, p) then return run_lstm(x, tdim, h, c, p, reverse) end
  local xg = luann.linear(x, p[1], p[3]) -- (..., G*hidden), every step at once
  local xs = slices(xg, tdim, 1, {})
  local steps = #xs
  local hs = {}
  for k = 1, steps do
    local t = reverse and steps + 1 - k or k
    h, c = mode.step(xs[t], h, c, p[2], p[4])
    hs[t] = h
  end
  return luann.stack(hs, tdim), h, c
end

-- The states as a list of (batch, hidden) tensors, one per layer and direction.
local function unstack(s)
  local out = {}
  for k = 1, s:size(1) do out[k] = s:select(1, k) end
  return out
end

-- Runs a multi-layer recurrent network over a batched sequence.
-- @param name "rnn_tanh", "rnn_relu", "lstm" or "gru"
-- @param input (L, N, in), or (N, L, in) with batch_first
-- @param h0 (layers*dirs, N, hidden)
-- @param c0 (layers*dirs, N, hidden) for "lstm", else nil
-- @param params a list, per layer and then direction, of {w_ih, w_hh, b_ih, b_hh}
--   (biases may be nil)
-- @param opts {bidirectional = false, batch_first = false, dropout = 0,
--   training = true, dropout_fn = F.dropout}
-- @return output (L, N, dirs*hidden), h_n, c_n (for "lstm")
local function sequence(name, input, h0, c0, params, opts)
  local mode = modes[name]
  local dirs = opts.bidirectional and 2 or 1
  local layers = #params // dirs
  local tdim = opts.batch_first and 2 or 1
  local hs, cs = unstack(h0), c0 and unstack(c0) or {}
  local hn, cn = {}, {}
  local x = input
  for l = 1, layers do
    local outs = {}
    for d = 1, dirs do
      local k = (l - 1) * dirs + d
      outs[d], hn[k], cn[k] = run_direction(mode, x, tdim, hs[k], cs[k], params[k], d == 2)
    end
    x = dirs == 2 and luann.cat(outs, 3) or outs[1]
    if l < layers and (opts.dropout or 0) > 0 and opts.training ~= false then
      x = opts.dropout_fn(x, opts.dropout, true)
    end
  end
  return x, luann.stack(hn, 1), mode.cell and luann.stack(cn, 1) or nil
end

-- Zeros for a missing initial state: (layers*dirs, N, hidden).
local function zeros_state(input, n, batch, hidden)
  return luann.zeros(n, batch, hidden, { dtype = input.dtype, device = input.device })
end

return function(F)
  --- One step of an Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).
  -- @param input (N, in) or (in)
  -- @param hx (N, hidden) or (hidden); nil for zeros
  -- @param w_ih (hidden, in)
  -- @param w_hh (hidden, hidden)
  -- @param b_ih (hidden) or nil
  -- @param b_hh (hidden) or nil
  -- @return h' of hx's shape
  function F.rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih, b_hh)
    local xg = luann.linear(input, w_ih, b_ih)
    return tanh_step(xg, hx or luann.zeros_like(xg), nil, w_hh, b_hh)
  end

  --- As F.rnn_tanh_cell with relu in place of tanh.
  function F.rnn_relu_cell(input, hx, w_ih, w_hh, b_ih, b_hh)
    local xg = luann.linear(input, w_ih, b_ih)
    return relu_step(xg, hx or luann.zeros_like(xg), nil, w_hh, b_hh)
  end

  --- One LSTM step (gates i, f, g, o stacked in w_ih's rows).
  -- @param input (N, in)
  -- @param state {h, c}, each (N, hidden); nil for zeros
  -- @param w_ih (4*hidden, in), w_hh (4*hidden, hidden), b_ih, b_hh (4*hidden) or nil
  -- @return {h', c'}
  function F.lstm_cell(input, state, w_ih, w_hh, b_ih, b_hh)
    local p = { w_ih, w_hh, b_ih, b_hh }
    if input:dim() == 2 then
      local zero = state == nil and luann.zeros(input:size(1), w_hh:size(2), { dtype = input.dtype,
        device = input.device })
      local h, c = state and state[1] or zero, state and state[2] or zero
      if lstm_fusable(input, h, c, p) then -- one step of core/op_lstm.c
        local _, h1, c1 = run_lstm(input:unsqueeze(1), 1, h, c, p, false)
        return { h1, c1 }
      end
    end
    local xg = luann.linear(input, w_ih, b_ih)
    local zero = state == nil and luann.zeros_like(xg:narrow(-1, 1, w_hh:size(2)))
    local h, c = lstm_step(xg, state and state[1] or zero, state and state[2] or zero, w_hh, b_hh)
    return { h, c }
  end

  --- One GRU step (gates r, z, n stacked in w_ih's rows), with PyTorch's
  -- n = tanh(W_in x + b_in + r (W_hn h + b_hn)).
  -- @param input (N, in)
  -- @param hx (N, hidden); nil for zeros
  -- @return h'
  function F.gru_cell(input, hx, w_ih, w_hh, b_ih, b_hh)
    local xg = luann.linear(input, w_ih, b_ih)
    return gru_step(xg, hx or luann.zeros_like(xg:narrow(-1, 1, w_hh:size(2))), nil, w_hh, b_hh)
  end

  --- A multi-layer recurrent network over a batched sequence, the work of
  -- nn.RNN, nn.LSTM and nn.GRU (which check the shapes first).
  -- @param mode "rnn_tanh", "rnn_relu", "lstm" or "gru"
  -- @param input (L, N, in), or (N, L, in) with batch_first
  -- @param hx (layers*dirs, N, hidden), {h0, c0} for "lstm", or nil for zeros
  -- @param params a list, per layer and then direction, of
  --   {w_ih, w_hh, b_ih, b_hh} (the biases may be nil)
  -- @param opts {bidirectional = false,
  --   batch_first = false, dropout = 0, training = true}
  -- @return output (L, N, dirs*hidden) (batch first with batch_first), and
  --   h_n (layers*dirs, N, hidden), or {h_n, c_n} for "lstm"
  function F.recurrent(mode, input, hx, params, opts)
    opts = opts or {}
    if modes[mode] == nil then
      check.error("F.recurrent: unknown mode '" .. tostring(mode) .. "'", 2)
    end
    local n = #params
    local batch = input:size(opts.batch_first and 1 or 2)
    local hidden = params[1][2]:size(2)
    local h0, c0 = hx, nil
    if mode == "lstm" then
      h0, c0 = hx and hx[1], hx and hx[2]
      c0 = c0 or zeros_state(input, n, batch, hidden)
    end
    h0 = h0 or zeros_state(input, n, batch, hidden)
    local out, hn, cn = sequence(mode, input, h0, c0, params, {
      bidirectional = opts.bidirectional, batch_first = opts.batch_first,
      dropout = opts.dropout, training = opts.training, dropout_fn = F.dropout })
    if mode == "lstm" then return out, { hn, cn } end
    return out, hn
  end
end
