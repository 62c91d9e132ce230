--- nn.TransformerDecoderLayer: self-attention over the target, attention
-- from the target to the encoder's output (memory), then a feed-forward
-- block; each with a residual connection and a layer norm (post-norm, or
-- pre-norm with norm_first). PyTorch's submodule names.
-- @usage local layer = nn.TransformerDecoderLayer(512, 8, {batch_first = true})
-- local y = layer(tgt, memory, {tgt_is_causal = true})
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Linear = require "luann.nn.Linear"
local Dropout = require "luann.nn.Dropout"
local LayerNorm = require "luann.nn.LayerNorm"
local MultiheadAttention = require "luann.nn.MultiheadAttention"
local TransformerEncoderLayer = require "luann.nn.TransformerEncoderLayer"

local TransformerDecoderLayer = Module:extend("TransformerDecoderLayer")
local NAME = "nn.TransformerDecoderLayer"

--- @param d_model the width of target and memory
-- @param nhead heads of both attentions
-- @param opts as nn.TransformerEncoderLayer's
function TransformerDecoderLayer:__init(d_model, nhead, opts)
  rawset(self, "_init_args", table.pack(d_model, nhead, opts))
  local o = TransformerEncoderLayer.read_options(NAME, opts)
  local t, b = o.t, o.bias
  local function mha()
    return MultiheadAttention(d_model, nhead, { dropout = o.dropout, bias = b,
      batch_first = o.batch_first, dtype = t.dtype, device = t.device })
  end
  local function norm()
    return LayerNorm(d_model, { eps = o.eps, bias = b, dtype = t.dtype, device = t.device })
  end
  self.self_attn = mha()
  self.multihead_attn = mha()
  self.linear1 = Linear(d_model, o.dim_feedforward, { bias = b, dtype = t.dtype, device = t.device })
  self.dropout = Dropout(o.dropout)
  self.linear2 = Linear(o.dim_feedforward, d_model, { bias = b, dtype = t.dtype, device = t.device })
  self.norm_first = o.norm_first
  -- one at a time: a multiple assignment may register them in any order
  self.norm1 = norm()
  self.norm2 = norm()
  self.norm3 = norm()
  self.dropout1 = Dropout(o.dropout)
  self.dropout2 = Dropout(o.dropout)
  self.dropout3 = Dropout(o.dropout)
  self.activation = o.activation
end

function TransformerDecoderLayer:_sa_block(x, mask, pad, causal)
  return self.dropout1((self.self_attn(x, x, x, { attn_mask = mask, key_padding_mask = pad,
    is_causal = causal, need_weights = false })))
end

function TransformerDecoderLayer:_mha_block(x, mem, mask, pad, causal)
  return self.dropout2((self.multihead_attn(x, mem, mem, { attn_mask = mask,
    key_padding_mask = pad, is_causal = causal, need_weights = false })))
end

function TransformerDecoderLayer:_ff_block(x)
  return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))
end

--- @param tgt (T, N, E), (N, T, E) when batch_first, or (T, E)
-- @param memory (S, N, E), (N, S, E) or (S, E)
-- @param opts {tgt_mask (T, T), memory_mask (T, S), tgt_key_padding_mask (N, T),
--   memory_key_padding_mask (N, S), tgt_is_causal, memory_is_causal}; bool
--   true = blocked. tgt_is_causal with no tgt_mask makes the causal mask.
-- @return tgt's shape
function TransformerDecoderLayer:forward(tgt, memory, opts)
  check.tensor(NAME, 1, tgt, "tgt", 3)
  check.tensor(NAME, 2, memory, "memory")
  opts = check.options(NAME, 3, opts)
  check.known_options(NAME, opts, { tgt_mask = true, memory_mask = true,
    tgt_key_padding_mask = true, memory_key_padding_mask = true, tgt_is_causal = true,
    memory_is_causal = true }, 3)
  local o, x = opts, tgt
  if self.norm_first then
    x = x + self:_sa_block(self.norm1(x), o.tgt_mask, o.tgt_key_padding_mask, o.tgt_is_causal)
    x = x + self:_mha_block(self.norm2(x), memory, o.memory_mask, o.memory_key_padding_mask,
      o.memory_is_causal)
    x = x + self:_ff_block(self.norm3(x))
  else
    x = self.norm1(x + self:_sa_block(x, o.tgt_mask, o.tgt_key_padding_mask, o.tgt_is_causal))
    x = self.norm2(x + self:_mha_block(x, memory, o.memory_mask, o.memory_key_padding_mask,
      o.memory_is_causal))
    x = self.norm3(x + self:_ff_block(x))
  end
  return x
end

return TransformerDecoderLayer
