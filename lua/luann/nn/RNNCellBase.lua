--- nn.RNNCellBase: what nn.RNNCell, nn.LSTMCell and nn.GRUCell share:
-- parameters under PyTorch's names, weight_ih (gates*hidden, input_size),
-- weight_hh (gates*hidden, hidden), bias_ih and bias_hh (gates*hidden), all
-- from U(-1/sqrt(hidden), 1/sqrt(hidden)); the shape checks; and a forward
-- over one step. A subclass sets `gates` and `mode` ("lstm", "gru";
-- nn.RNNCell picks "rnn_tanh" or "rnn_relu").
local luann = require "luann"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Parameter = require "luann.nn.Parameter"
local F = require "luann.nn.functional"
local rnn_util = require "luann.nn.rnn_util"

local RNNCellBase = Module:extend("RNNCellBase")

local KNOWN = { bias = true, nonlinearity = true, dtype = true, device = true }

--- @param input_size features of the input
-- @param hidden_size features of the hidden state
-- @param opts bias (a boolean), or an options table {bias = true,
--   nonlinearity = "tanh" (nn.RNNCell only), dtype, device}
function RNNCellBase:__init(input_size, hidden_size, opts)
  local name
  name, opts = rnn_util.open(self, input_size, hidden_size, opts, KNOWN, "bias")
  local has_bias = check.boolean(name, 3, opts.bias, "bias", true, 3)
  rnn_util.mode(self, name, opts, "nn.RNNCell")
  local topts = { dtype = opts.dtype, device = opts.device }
  local g = self.gates * self.hidden_size
  self.weight_ih = Parameter(luann.empty(g, self.input_size, topts))
  self.weight_hh = Parameter(luann.empty(g, self.hidden_size, topts))
  if has_bias then
    self.bias_ih = Parameter(luann.empty(g, topts))
    self.bias_hh = Parameter(luann.empty(g, topts))
  end
  self:reset_parameters()
end

--- Re-draws every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
RNNCellBase.reset_parameters = rnn_util.reset_parameters

--- One step.
-- @param input (N, input_size), or (input_size) unbatched
-- @param hx h (N, hidden_size) (or (hidden_size)); for nn.LSTMCell the
--   list {h, c}; nil (or a nil entry) for zeros
-- @return h' shaped like h; for nn.LSTMCell the list {h', c'} (PyTorch's
--   tuple), ready to pass back as the next step's hx
function RNNCellBase:forward(input, hx)
  local name, dim = rnn_util.check_input(self, input, 2)
  local h, c, lstm = rnn_util.split_state(self, name, hx, "{h, c}")
  local want = dim == 2 and { input:size(1), self.hidden_size } or { self.hidden_size }
  rnn_util.check_states(name, h, c, want, input)
  if dim == 1 then
    input, h, c = input:unsqueeze(1), h and h:unsqueeze(1), c and c:unsqueeze(1)
  end
  if lstm and (h == nil or c == nil) then
    local z = luann.zeros(input:size(1), self.hidden_size, { dtype = input.dtype, device = input.device })
    h, c = h or z, c or z
  end
  local out = F[self.mode .. "_cell"](input, lstm and { h, c } or h, self.weight_ih, self.weight_hh,
    self.bias_ih, self.bias_hh)
  if dim == 2 then return out end
  if lstm then return { out[1]:squeeze(1), out[2]:squeeze(1) } end
  return out:squeeze(1)
end

function RNNCellBase:extra_repr()
  local s = string.format("%d, %d", self.input_size, self.hidden_size)
  if self.bias_ih == nil then s = s .. ", bias=false" end
  if self.nonlinearity == "relu" then s = s .. ", nonlinearity=relu" end
  return s
end

return RNNCellBase
