--- nn.GRU: a multi-layer gated recurrent unit network. Per step, with the
-- gates stacked in the weights' rows in PyTorch's order r, z, n:
--   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise,
--   n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h_t = (1 - z) n + z h
-- (the reset gate applied after the hidden matmul, as PyTorch and cuDNN).
-- Options, parameters and shapes: see nn.RNNBase.
-- @usage local gru = nn.GRU(10, 20, {batch_first = true})
-- local output, h_n = gru(x, h0)    -- x (N, L, 10), h0 (1, N, 20) or nil
local RNNBase = require "luann.nn.RNNBase"

local GRU = RNNBase:extend("GRU")
GRU.gates, GRU.mode = 3, "gru"

return GRU
