--- nn.RNN: a multi-layer Elman RNN, h_t = tanh(x_t W_ih^T + b_ih +
-- h_{t-1} W_hh^T + b_hh) (relu with nonlinearity = "relu"). Options,
-- parameters, shapes and results: see nn.RNNBase.
-- @usage local rnn = nn.RNN(10, 20, {num_layers = 2, nonlinearity = "relu"})
-- local output, h_n = rnn(x, h0)    -- x (L, N, 10), h0 (2, N, 20) or nil
local RNNBase = require "luann.nn.RNNBase"

local RNN = RNNBase:extend("RNN")
RNN.gates = 1 -- the mode follows the nonlinearity option

return RNN
