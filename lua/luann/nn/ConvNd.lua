--- The base of nn.Conv1d, nn.Conv2d and nn.ConvTranspose2d (PyTorch's
-- _ConvNd): reads the constructor's arguments, makes the parameters with
-- PyTorch's layouts and initialisation, and prints them as PyTorch does.
-- Subclasses set `nd` (1 or 2), `transposed`, `positional` (the names the
-- arguments after kernel_size take by position) and forward.
local luann = require "luann"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Parameter = require "luann.nn.Parameter"
local F = require "luann.nn.functional"
local init = require "luann.nn.initializers"

local ConvNd = Module:extend("ConvNd")

local PADDING_MODES = { "zeros", "reflect", "replicate", "circular" }

--- nd integers (at least lo) from a number (repeated) or a list of nd.
-- Raises at the user's line (level 4: the constructor runs under __call).
function ConvNd.sizes(fname, pos, v, name, def, lo, nd)
  if v == nil then v = def end
  if type(v) ~= "table" then
    local n = check.integer(fname, pos, v, name, nil, lo, 4)
    v = {}
    for i = 1, nd do v[i] = n end
    return v
  end
  if rawlen(v) ~= nd then
    check.error(string.format("%s: bad argument #%d '%s' (expected %d numbers, got %d)",
      fname, pos, name, nd, rawlen(v)), 2)
  end
  local out = {}
  for i = 1, nd do out[i] = check.integer(fname, pos, rawget(v, i), name, nil, lo, 4) end
  return out
end

--- "(5, 5)" (or "(5,)" for one), as Python prints a tuple.
function ConvNd.tuple_str(t)
  if type(t) ~= "table" then return tostring(t) end
  if #t == 1 then return "(" .. t[1] .. ",)" end
  return "(" .. table.concat(t, ", ") .. ")"
end

local function all(t, v)
  for _, x in ipairs(t) do if x ~= v then return false end end
  return true
end

--- @param in_channels channels of the input
-- @param out_channels channels of the output
-- @param kernel_size a number or a list of nd
-- @param ... an options table, or the options by position in PyTorch's
--   order: stride, padding, dilation, groups, bias, padding_mode (the
--   transposed layer: stride, padding, output_padding, groups, bias,
--   dilation, padding_mode); also dtype and device
function ConvNd:__init(in_channels, out_channels, kernel_size, ...)
  local fname = "nn." .. getmetatable(self).__name
  local nd = self.nd
  local opts = ...
  if type(opts) ~= "table" or rawlen(opts) > 0 then -- a list is the stride
    opts = {}
    local args = table.pack(...)
    for i, name in ipairs(self.positional) do opts[name] = args[i] end
  else
    local known = { dtype = true, device = true }
    for _, name in ipairs(self.positional) do known[name] = true end
    check.known_options(fname, opts, known, 3)
  end
  self.in_channels = check.integer(fname, 1, in_channels, "in_channels", nil, 1, 3)
  self.out_channels = check.integer(fname, 2, out_channels, "out_channels", nil, 1, 3)
  self.kernel_size = ConvNd.sizes(fname, 3, kernel_size, "kernel_size", nil, 1, nd)
  self.stride = ConvNd.sizes(fname, 4, opts.stride, "stride", 1, 1, nd)
  self.dilation = ConvNd.sizes(fname, 4, opts.dilation, "dilation", 1, 1, nd)
  self.groups = check.integer(fname, 4, opts.groups, "groups", 1, 1, 3)
  if self.in_channels % self.groups ~= 0 or self.out_channels % self.groups ~= 0 then
    check.error(string.format("%s: groups (%d) must divide in_channels (%d) and out_channels (%d)",
      fname, self.groups, self.in_channels, self.out_channels), 2)
  end
  self.padding_mode = check.choice(fname, 4, opts.padding_mode, "padding_mode", "zeros",
    PADDING_MODES, 3)
  self:read_padding(fname, opts.padding)
  if self.transposed then
    if self.padding_mode ~= "zeros" then
      check.error(fname .. ": only padding_mode 'zeros' is supported, got '" .. self.padding_mode .. "'", 2)
    end
    self.output_padding = ConvNd.sizes(fname, 4, opts.output_padding, "output_padding", 0, 0, nd)
  end
  local has_bias = check.boolean(fname, 4, opts.bias, "bias", true, 3)
  local topts = { dtype = opts.dtype, device = opts.device }
  local shape = self.transposed and { self.in_channels, self.out_channels // self.groups }
    or { self.out_channels, self.in_channels // self.groups }
  for i = 1, nd do shape[2 + i] = self.kernel_size[i] end
  self.weight = Parameter(luann.empty(shape, topts))
  if has_bias then self.bias = Parameter(luann.empty(self.out_channels, topts)) end
  self:reset_parameters()
end

--- padding: numbers (at least 0), "valid" or "same" (stride 1 only; the
-- transposed layer takes numbers only). With another padding_mode than
-- zeros, `pads` holds F.pad's amounts and the convolution pads nothing.
function ConvNd:read_padding(fname, padding)
  local nd = self.nd
  if type(padding) == "string" then
    if self.transposed then
      check.error(fname .. ": padding must be numbers, got '" .. padding .. "'", 2)
    end
    check.choice(fname, 4, padding, "padding", nil, { "valid", "same" }, 4)
    if padding == "same" and not all(self.stride, 1) then
      check.error(fname .. ": padding='same' is not supported for strided convolutions", 2)
    end
    self.padding = padding
  else
    self.padding = ConvNd.sizes(fname, 4, padding, "padding", 0, 0, nd)
  end
  if self.padding_mode == "zeros" then return end
  local pads = {}
  for i = nd, 1, -1 do -- F.pad's order: the last dim first
    local before, after = 0, 0
    if self.padding == "same" then
      local total = self.dilation[i] * (self.kernel_size[i] - 1)
      before, after = total // 2, total - total // 2
    elseif self.padding ~= "valid" then
      before, after = self.padding[i], self.padding[i]
    end
    pads[#pads + 1], pads[#pads + 2] = before, after
  end
  self.pads = pads
end

--- Re-draws weight and bias as PyTorch does: kaiming_uniform_ with
-- a = sqrt(5) (U(+-1/sqrt(fan_in)) in effect), bias U(+-1/sqrt(fan_in)).
function ConvNd:reset_parameters()
  init.kaiming_uniform_(self.weight, { a = math.sqrt(5) })
  if self.bias ~= nil then
    local fan_in = init.calculate_fan_in_and_fan_out(self.weight)
    local bound = fan_in > 0 and 1 / math.sqrt(fan_in) or 0
    init.uniform_(self.bias, -bound, bound)
  end
end

--- The options the functional takes; x padded first when padding_mode
-- is not zeros.
-- @return x, the options table
function ConvNd:conv_args(x)
  local o = { stride = self.stride, dilation = self.dilation, groups = self.groups,
    padding = self.padding }
  if self.pads then
    check.tensor("nn." .. getmetatable(self).__name, 1, x, "input", 3)
    x = F.pad(x, self.pads, self.padding_mode)
    o.padding = 0
  end
  return x, o
end

-- PyTorch's text: "1, 6, kernel_size=(5, 5), stride=(1, 1)", then what is
-- not the default.
function ConvNd:extra_repr()
  local s = string.format("%d, %d, kernel_size=%s, stride=%s", self.in_channels,
    self.out_channels, ConvNd.tuple_str(self.kernel_size), ConvNd.tuple_str(self.stride))
  if type(self.padding) == "string" then
    s = s .. ", padding=" .. self.padding
  elseif not all(self.padding, 0) then
    s = s .. ", padding=" .. ConvNd.tuple_str(self.padding)
  end
  if not all(self.dilation, 1) then s = s .. ", dilation=" .. ConvNd.tuple_str(self.dilation) end
  if self.output_padding and not all(self.output_padding, 0) then
    s = s .. ", output_padding=" .. ConvNd.tuple_str(self.output_padding)
  end
  if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
  if self.bias == nil then s = s .. ", bias=False" end
  if self.padding_mode ~= "zeros" then s = s .. ", padding_mode=" .. self.padding_mode end
  return s
end

return ConvNd
