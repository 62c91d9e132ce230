--- nn.LogSigmoid: log(sigmoid(x)), computed without overflow, elementwise.
-- @usage local act = nn.LogSigmoid(); local y = act(x)
local Module = require "luann.nn.Module"
local F = require "luann.nn.functional"

local LogSigmoid = Module:extend("LogSigmoid")

--- Takes no settings.
function LogSigmoid:__init() end

--- @param x a tensor
-- @return a tensor of x's shape
function LogSigmoid:forward(x)
  return F.logsigmoid(x)
end

return LogSigmoid
