--- nn.TransformerDecoder: num_layers deep copies of a decoder layer, run in
-- turn over the target with the same memory, then an optional norm; layers
-- numbered from 1 (see nn.TransformerEncoder).
-- @usage local layer = nn.TransformerDecoderLayer(512, 8, {batch_first = true})
-- local decoder = nn.TransformerDecoder(layer, 6)
-- local y = decoder(tgt, memory, {tgt_is_causal = true})
local check = require "luann.utils.check"
local class = require "luann.utils.class"
local Module = require "luann.nn.Module"
local ModuleList = require "luann.nn.ModuleList"
local TransformerEncoder = require "luann.nn.TransformerEncoder"

local TransformerDecoder = Module:extend("TransformerDecoder")
local NAME = "nn.TransformerDecoder"

--- @param decoder_layer an nn.TransformerDecoderLayer (copied num_layers times)
-- @param num_layers how many
-- @param opts {norm = nil}
function TransformerDecoder:__init(decoder_layer, num_layers, opts)
  if not Module.is_module(decoder_layer) then
    check.error(NAME .. ": bad argument #1 'decoder_layer' (nn.Module expected, got "
      .. class.typename(decoder_layer) .. ")", 2)
  end
  self.num_layers = check.integer(NAME, 2, num_layers, "num_layers", nil, 1, 3)
  opts = check.options(NAME, 3, opts, 3)
  check.known_options(NAME, opts, { norm = true }, 3)
  local layers = {}
  for i = 1, self.num_layers do layers[i] = TransformerEncoder.copy_layer(NAME, decoder_layer) end
  self.layers = ModuleList(layers)
  if opts.norm ~= nil then
    if not Module.is_module(opts.norm) then
      check.error(NAME .. ": bad argument #3 'norm' (nn.Module expected, got "
        .. class.typename(opts.norm) .. ")", 2)
    end
    self.norm = opts.norm
  end
end

--- @param tgt, memory as the layer takes them
-- @param opts the layer's options (tgt_mask, memory_mask, ...), passed to each
-- @return tgt's shape
function TransformerDecoder:forward(tgt, memory, opts)
  local x = tgt
  for _, layer in ipairs(self.layers) do x = layer(x, memory, opts) end
  if self.norm ~= nil then x = self.norm(x) end
  return x
end

return TransformerDecoder
