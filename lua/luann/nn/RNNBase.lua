--- nn.RNNBase: what nn.RNN, nn.LSTM and nn.GRU share: the options, the
-- parameters under PyTorch's names and layouts, the shape checks, and a
-- forward that runs F.recurrent. A subclass sets `gates` (per hidden unit)
-- and `mode` ("lstm", "gru"; nn.RNN picks "rnn_tanh" or "rnn_relu").
--
-- Parameters, for layer k = 0, 1, ... and then direction (suffix
-- "_reverse" for the backward one): weight_ih_l{k} (gates*hidden, in; in is
-- input_size for layer 0, dirs*hidden above), weight_hh_l{k}
-- (gates*hidden, hidden), bias_ih_l{k}, bias_hh_l{k} (gates*hidden).
local luann = require "luann"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Parameter = require "luann.nn.Parameter"
local F = require "luann.nn.functional"
local rnn_util = require "luann.nn.rnn_util"

local RNNBase = Module:extend("RNNBase")

local MAX_LAYERS = 1024 -- far past any stack that trains; each layer is four tensors

local KNOWN = { num_layers = true, bias = true, batch_first = true, dropout = true,
  bidirectional = true, nonlinearity = true, dtype = true, device = true }

--- Makes the layer; every parameter starts uniform in +-1/sqrt(hidden_size).
-- @param input_size features of each input step
-- @param hidden_size features of the hidden state
-- @param opts num_layers (a number, at most 1024), or an options table
--   {num_layers = 1, bias = true, batch_first = false, dropout = 0 (between layers, while
--   training), bidirectional = false, nonlinearity = "tanh" (nn.RNN only),
--   dtype, device}
function RNNBase:__init(input_size, hidden_size, opts)
  local name
  name, opts = rnn_util.open(self, input_size, hidden_size, opts, KNOWN, "num_layers")
  self.num_layers = check.integer(name, 3, opts.num_layers, "num_layers", 1, 1, 3)
  if self.num_layers > MAX_LAYERS then -- a typo like 2^62 must not loop for ever
    check.error(string.format("%s: bad argument #3 'num_layers' (must be <= %d, got %d)", name,
      MAX_LAYERS, self.num_layers), 2)
  end
  self.bias = check.boolean(name, 3, opts.bias, "bias", true, 3)
  self.batch_first = check.boolean(name, 3, opts.batch_first, "batch_first", false, 3)
  self.dropout = check.number(name, 3, opts.dropout, "dropout", 0, 0, 1, 3)
  self.bidirectional = check.boolean(name, 3, opts.bidirectional, "bidirectional", false, 3)
  rnn_util.mode(self, name, opts, "nn.RNN")
  local topts = { dtype = opts.dtype, device = opts.device }
  local dirs = self.bidirectional and 2 or 1
  local g, h = self.gates * self.hidden_size, self.hidden_size
  self._names = {} -- per layer and direction: the four names, for forward
  for k = 0, self.num_layers - 1 do
    for d = 1, dirs do
      local sfx = "_l" .. k .. (d == 2 and "_reverse" or "")
      local n = { "weight_ih" .. sfx, "weight_hh" .. sfx, "bias_ih" .. sfx, "bias_hh" .. sfx }
      self[n[1]] = Parameter(luann.empty(g, k == 0 and self.input_size or dirs * h, topts))
      self[n[2]] = Parameter(luann.empty(g, h, topts))
      if self.bias then
        self[n[3]] = Parameter(luann.empty(g, topts))
        self[n[4]] = Parameter(luann.empty(g, topts))
      end
      self._names[#self._names + 1] = n
    end
  end
  self:reset_parameters()
end

--- Re-draws every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
RNNBase.reset_parameters = rnn_util.reset_parameters

--- Runs the network over a sequence.
-- @param input (L, N, input_size), (N, L, input_size) with batch_first, or
--   (L, input_size) unbatched
-- @param hx the initial hidden state h0 (layers*dirs, N, hidden_size), or
--   (layers*dirs, hidden_size) unbatched; for nn.LSTM the list {h0, c0}.
--   nil (or a nil entry) starts from zeros.
-- @return output (L, N, dirs*hidden_size) (batch first with batch_first,
--   (L, dirs*hidden_size) unbatched), the last output of every layer's
--   top direction; and h_n shaped like h0, or {h_n, c_n} for nn.LSTM
--   (PyTorch's tuple (h_n, c_n) as a list)
function RNNBase:forward(input, hx)
  local name, dim = rnn_util.check_input(self, input, 3)
  if input:size((dim == 3 and self.batch_first) and 2 or 1) == 0 then
    check.error(string.format("%s: input %s has no timesteps", name, check.shape_str(input)), 2)
  end
  local h0, c0, lstm = rnn_util.split_state(self, name, hx, "{h0, c0}")
  local batched = dim == 3
  local states = (self.bidirectional and 2 or 1) * self.num_layers
  local want = batched and { states, input:size(self.batch_first and 1 or 2), self.hidden_size }
    or { states, self.hidden_size }
  rnn_util.check_states(name, h0, c0, want, input)
  if not batched then
    input = input:unsqueeze(self.batch_first and 1 or 2)
    h0, c0 = h0 and h0:unsqueeze(2), c0 and c0:unsqueeze(2)
  end
  local params = {}
  for i, n in ipairs(self._names) do
    params[i] = { self[n[1]], self[n[2]], self[n[3]], self[n[4]] }
  end
  local out, hn = F.recurrent(self.mode, input, lstm and { h0, c0 } or h0, params, {
    bidirectional = self.bidirectional, batch_first = self.batch_first,
    dropout = self.dropout, training = self.training })
  if batched then return out, hn end
  out = out:squeeze(self.batch_first and 1 or 2)
  if lstm then return out, { hn[1]:squeeze(2), hn[2]:squeeze(2) } end
  return out, hn:squeeze(2)
end

function RNNBase:extra_repr()
  local s = string.format("%d, %d", self.input_size, self.hidden_size)
  if self.num_layers ~= 1 then s = s .. ", num_layers=" .. self.num_layers end
  if self.nonlinearity == "relu" then s = s .. ", nonlinearity=relu" end
  if not self.bias then s = s .. ", bias=false" end
  if self.batch_first then s = s .. ", batch_first=true" end
  if self.dropout ~= 0 then s = s .. ", dropout=" .. self.dropout end
  if self.bidirectional then s = s .. ", bidirectional=true" end
  return s
end

return RNNBase
