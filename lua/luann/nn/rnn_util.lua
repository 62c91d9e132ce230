--- What nn.RNNBase (whole sequences) and nn.RNNCellBase (one step) share:
-- reading the options both take, checking an input and its state {h, c},
-- and the initialisation. Not a layer (lower case: nn.X never loads it).
-- Every check errors at the line that called the layer: the functions here
-- are called from the layer's __init or forward, one level down.
local class = require "luann.utils.class"
local check = require "luann.utils.check"
local init = require "luann.nn.initializers"

local rnn_util = {}

--- Reads what every recurrent layer's __init takes first.
-- @param opts an options table, or the value of option `positional`
-- @return the layer's name for messages ("nn.LSTM") and the options table;
--   sets self.input_size and self.hidden_size
function rnn_util.open(self, input_size, hidden_size, opts, known, positional)
  local name = "nn." .. self.__name
  if type(opts) ~= "table" then opts = { [positional] = opts } end
  check.known_options(name, opts, known, 4)
  self.input_size = check.integer(name, 1, input_size, "input_size", nil, 1, 4)
  self.hidden_size = check.integer(name, 2, hidden_size, "hidden_size", nil, 1, 4)
  return name, opts
end

--- Sets self.mode: the plain layer (`plain`, "nn.RNN" or "nn.RNNCell", the
-- only one without a mode) takes option nonlinearity, the others refuse it.
function rnn_util.mode(self, name, opts, plain)
  if self.mode == nil then
    local nl = check.choice(name, 3, opts.nonlinearity, "nonlinearity", "tanh", { "tanh", "relu" }, 4)
    self.nonlinearity, self.mode = nl, "rnn_" .. nl
  elseif opts.nonlinearity ~= nil then
    check.error(name .. ": unknown option 'nonlinearity' (" .. plain .. " only)", 2)
  end
end

--- Re-draws every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
function rnn_util.reset_parameters(self)
  local bound = 1 / math.sqrt(self.hidden_size)
  for _, p in ipairs(self:parameters()) do init.uniform_(p, -bound, bound) end
end

--- Checks a forward's input: a tensor of `dims` dims (dims - 1 unbatched)
-- whose last one is input_size.
-- @return the layer's name for messages and the input's dim
function rnn_util.check_input(self, input, dims)
  local name = "nn." .. self.__name
  check.tensor(name, 1, input, "input", 3)
  local dim = input:dim()
  if dim ~= dims - 1 and dim ~= dims then
    check.error(string.format("%s: expected input of %d (unbatched) or %d dims, got shape %s",
      name, dims - 1, dims, check.shape_str(input)), 2)
  end
  if input:size(-1) ~= self.input_size then
    check.error(string.format("%s: input %s has %d features, expected input_size %d", name,
      check.shape_str(input), input:size(-1), self.input_size), 2)
  end
  return name, dim
end

--- Splits hx into h and c: an LSTM's is the list `pair` names ("{h, c}"),
-- the others' one tensor (c nil); nil stands for zeros.
-- @return h, c, and whether the layer is an LSTM
function rnn_util.split_state(self, name, hx, pair)
  local lstm = self.mode == "lstm"
  if not lstm then return hx, nil, false end
  if hx ~= nil and type(hx) ~= "table" then
    check.error(name .. ": bad argument #2 'hx' (" .. pair .. " expected, got " .. class.typename(hx) .. ")", 2)
  end
  return hx and hx[1], hx and hx[2], true
end

local function check_state(name, what, t, want, input)
  check.tensor(name, 2, t, what, 4)
  local shape = "(" .. table.concat(want, ",") .. ")"
  if check.shape_str(t) ~= shape then
    check.error(string.format("%s: %s must have shape %s for input %s, got %s", name, what, shape,
      check.shape_str(input), check.shape_str(t)), 2)
  end
end

--- Errors unless h and c (each nil or a tensor) have the shape `want`, a
-- list of sizes, for `input`.
function rnn_util.check_states(name, h, c, want, input)
  if h ~= nil then check_state(name, "h0", h, want, input) end
  if c ~= nil then check_state(name, "c0", c, want, input) end
end

return rnn_util
