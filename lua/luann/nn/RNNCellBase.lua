--- nn.RNNCellBase: what nn.RNNCell, nn.LSTMCell and nn.GRUCell share:
-- parameters under PyTorch's names, weight_ih (gates*hidden, input_size),
-- weight_hh (gates*hidden, hidden), bias_ih and bias_hh (gates*hidden), all
-- from U(-1/sqrt(hidden), 1/sqrt(hidden)); the shape checks; and a forward
-- over one step. A subclass sets `gates` and `mode` ("lstm", "gru";
-- nn.RNNCell picks "rnn_tanh" or "rnn_relu").
local luann = require "luann"
local class = require "luann.utils.class"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Parameter = require "luann.nn.Parameter"
local init = require "luann.nn.initializers"
local F = require "luann.nn.functional"

local RNNCellBase = Module:extend("RNNCellBase")

local KNOWN = { bias = true, nonlinearity = true, dtype = true, device = true }

--- @param input_size features of the input
-- @param hidden_size features of the hidden state
-- @param opts bias (a boolean), or an options table {bias = true,
--   nonlinearity = "tanh" (nn.RNNCell only), dtype, device}
function RNNCellBase:__init(input_size, hidden_size, opts)
  local name = "nn." .. self.__name
  if type(opts) ~= "table" then opts = { bias = opts } end
  check.known_options(name, opts, KNOWN, 3)
  self.input_size = check.integer(name, 1, input_size, "input_size", nil, 1, 3)
  self.hidden_size = check.integer(name, 2, hidden_size, "hidden_size", nil, 1, 3)
  local has_bias = check.boolean(name, 3, opts.bias, "bias", true, 3)
  if self.mode == nil then -- nn.RNNCell
    local nl = check.choice(name, 3, opts.nonlinearity, "nonlinearity", "tanh", { "tanh", "relu" }, 3)
    self.nonlinearity, self.mode = nl, "rnn_" .. nl
  elseif opts.nonlinearity ~= nil then
    error(name .. ": unknown option 'nonlinearity' (nn.RNNCell only)", 3)
  end
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
function RNNCellBase:reset_parameters()
  local bound = 1 / math.sqrt(self.hidden_size)
  for _, p in ipairs(self:parameters()) do init.uniform_(p, -bound, bound) end
end

local function check_state(name, what, t, want, input)
  check.tensor(name, 2, t, what, 3)
  local shape = "(" .. table.concat(want, ",") .. ")"
  if check.shape_str(t) ~= shape then
    error(string.format("%s: %s must have shape %s for input %s, got %s", name, what, shape,
      check.shape_str(input), check.shape_str(t)), 4)
  end
end

--- One step.
-- @param input (N, input_size), or (input_size) unbatched
-- @param hx h (N, hidden_size) (or (hidden_size)); for nn.LSTMCell the
--   list {h, c}; nil (or a nil entry) for zeros
-- @return h' shaped like h; for nn.LSTMCell the list {h', c'} (PyTorch's
--   tuple), ready to pass back as the next step's hx
function RNNCellBase:forward(input, hx)
  local name = "nn." .. self.__name
  check.tensor(name, 1, input, "input")
  local dim = input:dim()
  if dim ~= 1 and dim ~= 2 then
    error(string.format("%s: expected input of 1 (unbatched) or 2 dims, got shape %s",
      name, check.shape_str(input)), 2)
  end
  if input:size(-1) ~= self.input_size then
    error(string.format("%s: input %s has %d features, expected input_size %d", name,
      check.shape_str(input), input:size(-1), self.input_size), 2)
  end
  local lstm = self.mode == "lstm"
  if lstm and hx ~= nil and type(hx) ~= "table" then
    error(name .. ": bad argument #2 'hx' ({h, c} expected, got " .. class.typename(hx) .. ")", 2)
  end
  local h, c = hx, nil
  if lstm then h, c = hx and hx[1], hx and hx[2] end
  local want = dim == 2 and { input:size(1), self.hidden_size } or { self.hidden_size }
  if h ~= nil then check_state(name, "h0", h, want, input) end
  if c ~= nil then check_state(name, "c0", c, want, input) end
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
