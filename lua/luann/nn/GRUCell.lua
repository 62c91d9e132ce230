--- nn.GRUCell: one GRU step (gates r, z, n, as nn.GRU); see nn.RNNCellBase.
-- @usage local cell = nn.GRUCell(10, 20)
-- local h = cell(x, h)              -- x (N, 10), h (N, 20) or nil
local RNNCellBase = require "luann.nn.RNNCellBase"

local GRUCell = RNNCellBase:extend("GRUCell")
GRUCell.gates, GRUCell.mode = 3, "gru"

return GRUCell
