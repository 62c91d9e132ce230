--- nn.TransformerEncoder: num_layers copies of an encoder layer, run in
-- turn, then an optional norm. The copies are deep, as PyTorch's: each
-- starts with the layer's parameters and trains on its own. They sit in a
-- ModuleList numbered from 1, so the state_dict says layers.1.linear1.weight
-- where PyTorch's says layers.0.linear1.weight.
-- @usage local layer = nn.TransformerEncoderLayer(512, 8, {batch_first = true})
-- local encoder = nn.TransformerEncoder(layer, 6, {norm = nn.LayerNorm(512)})
local luann = require "luann"
local check = require "luann.utils.check"
local class = require "luann.utils.class"
local Module = require "luann.nn.Module"
local ModuleList = require "luann.nn.ModuleList"

local TransformerEncoder = Module:extend("TransformerEncoder")
local NAME = "nn.TransformerEncoder"

--- A new layer like `layer`: made again from its constructor's arguments
-- (kept in _init_args), moved to its dtype and device, its state copied
-- and its training mode kept.
-- @param fname for messages
-- @param layer a module whose class keeps _init_args (the Transformer layers)
-- @return the copy
function TransformerEncoder.copy_layer(fname, layer)
  local args = rawget(layer, "_init_args")
  if args == nil then
    check.error(string.format("%s: cannot copy a %s (only modules that keep their constructor's "
      .. "arguments, such as the Transformer layers)", fname, class.typename(layer)), 2)
  end
  local copy = getmetatable(layer)(table.unpack(args, 1, args.n))
  local p = layer:parameters()[1]
  if p ~= nil then copy:to(p.dtype):to(p.device) end
  copy:load_state_dict(layer:state_dict())
  return copy:train(layer.training)
end

--- @param encoder_layer an nn.TransformerEncoderLayer (copied num_layers times)
-- @param num_layers how many
-- @param opts {norm = nil (a module applied to the last layer's output)}
function TransformerEncoder:__init(encoder_layer, num_layers, opts)
  if not Module.is_module(encoder_layer) then
    check.error(NAME .. ": bad argument #1 'encoder_layer' (nn.Module expected, got "
      .. class.typename(encoder_layer) .. ")", 2)
  end
  self.num_layers = check.integer(NAME, 2, num_layers, "num_layers", nil, 1, 3)
  opts = check.options(NAME, 3, opts, 3)
  check.known_options(NAME, opts, { norm = true, enable_nested_tensor = true }, 3)
  local layers = {}
  for i = 1, self.num_layers do layers[i] = TransformerEncoder.copy_layer(NAME, encoder_layer) end
  self.layers = ModuleList(layers)
  if opts.norm ~= nil then
    if not Module.is_module(opts.norm) then
      check.error(NAME .. ": bad argument #3 'norm' (nn.Module expected, got "
        .. class.typename(opts.norm) .. ")", 2)
    end
    self.norm = opts.norm
  end
end

--- @param src as the layer takes it
-- @param opts {mask =, src_key_padding_mask =, is_causal =}, passed to each
--   layer as src_mask, src_key_padding_mask and is_causal; a tensor in its
--   place is taken as mask
-- @return src's shape
function TransformerEncoder:forward(src, opts)
  check.tensor(NAME, 1, src, "src")
  if luann.is_tensor(opts) then opts = { mask = opts } end
  opts = check.options(NAME, 2, opts, 3)
  check.known_options(NAME, opts, { mask = true, src_key_padding_mask = true, is_causal = true })
  local x = src
  local layer_opts = { src_mask = opts.mask, src_key_padding_mask = opts.src_key_padding_mask,
    is_causal = opts.is_causal }
  for _, layer in ipairs(self.layers) do x = layer(x, layer_opts) end
  if self.norm ~= nil then x = self.norm(x) end
  return x
end

return TransformerEncoder
