--- nn.LSTM: a multi-layer long short-term memory network. Per step, with
-- the gates stacked in the weights' rows in PyTorch's order i, f, g, o:
--   i, f, o = sigmoid(.), g = tanh(.) of x_t W_ih^T + b_ih + h W_hh^T + b_hh
--   c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)
-- The state is a list {h, c} where PyTorch has a tuple. Options,
-- parameters and shapes: see nn.RNNBase.
-- @usage local lstm = nn.LSTM(10, 20, {num_layers = 2, bidirectional = true})
-- local output, state = lstm(x, {h0, c0})   -- or lstm(x): zeros
-- local h_n, c_n = state[1], state[2]
local RNNBase = require "luann.nn.RNNBase"

local LSTM = RNNBase:extend("LSTM")
LSTM.gates, LSTM.mode = 4, "lstm"

return LSTM
