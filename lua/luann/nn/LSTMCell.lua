--- nn.LSTMCell: one LSTM step (gates i, f, g, o, as nn.LSTM). The state
-- is the list {h, c}; see nn.RNNCellBase.
-- @usage local cell = nn.LSTMCell(10, 20)
-- local state = cell(x)             -- {h, c}, each (N, 20)
-- state = cell(x2, state)
local RNNCellBase = require "luann.nn.RNNCellBase"

local LSTMCell = RNNCellBase:extend("LSTMCell")
LSTMCell.gates, LSTMCell.mode = 4, "lstm"

return LSTMCell
