--- nn.RNNCell: one step of an Elman RNN, h' = tanh(x W_ih^T + b_ih +
-- h W_hh^T + b_hh) (relu with nonlinearity = "relu"). See nn.RNNCellBase.
-- @usage local cell = nn.RNNCell(10, 20, {nonlinearity = "relu"})
-- local h = cell(x)                 -- x (N, 10): h (N, 20)
-- h = cell(x2, h)
local RNNCellBase = require "luann.nn.RNNCellBase"

local RNNCell = RNNCellBase:extend("RNNCell")
RNNCell.gates = 1 -- the mode follows the nonlinearity option

return RNNCell
