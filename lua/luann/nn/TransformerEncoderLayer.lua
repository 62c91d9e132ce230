--- nn.TransformerEncoderLayer: self-attention then a feed-forward block,
-- each with a residual connection and a layer norm, after the residual
-- (post-norm, the default) or before the block (norm_first). PyTorch's
-- submodule names, so its state_dicts load as they are.
-- @usage local layer = nn.TransformerEncoderLayer(512, 8, {batch_first = true})
-- local y = layer(x, {src_key_padding_mask = pad})
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Linear = require "luann.nn.Linear"
local Dropout = require "luann.nn.Dropout"
local LayerNorm = require "luann.nn.LayerNorm"
local MultiheadAttention = require "luann.nn.MultiheadAttention"
local F = require "luann.nn.functional"

local TransformerEncoderLayer = Module:extend("TransformerEncoderLayer")
local NAME = "nn.TransformerEncoderLayer"

--- Reads the options shared with the decoder layer; an activation is
-- "relu", "gelu" or a function.
function TransformerEncoderLayer.read_options(fname, opts)
  opts = check.options(fname, 3, opts, 4)
  check.known_options(fname, opts, { dim_feedforward = true, dropout = true,
    activation = true, layer_norm_eps = true, batch_first = true, norm_first = true,
    bias = true, dtype = true, device = true }, 4)
  local act = opts.activation or "relu"
  if type(act) ~= "function" then
    act = F[check.choice(fname, 3, act, "activation", "relu", { "relu", "gelu" }, 4)]
  end
  return {
    dim_feedforward = check.integer(fname, 3, opts.dim_feedforward, "dim_feedforward", 2048, 1, 4),
    dropout = check.number(fname, 3, opts.dropout, "dropout", 0.1, 0, 1, 4),
    activation = act,
    eps = check.number(fname, 3, opts.layer_norm_eps, "layer_norm_eps", 1e-5, 0, nil, 4),
    batch_first = check.boolean(fname, 3, opts.batch_first, "batch_first", false, 4),
    norm_first = check.boolean(fname, 3, opts.norm_first, "norm_first", false, 4),
    bias = check.boolean(fname, 3, opts.bias, "bias", true, 4),
    t = { dtype = opts.dtype, device = opts.device },
  }
end

--- @param d_model the width of the input
-- @param nhead heads of the self-attention (dividing d_model)
-- @param opts {dim_feedforward = 2048, dropout = 0.1, activation = "relu"
--   ("gelu" or a function), layer_norm_eps = 1e-5, batch_first = false,
--   norm_first = false, bias = true, dtype=, device=}
function TransformerEncoderLayer:__init(d_model, nhead, opts)
  rawset(self, "_init_args", table.pack(d_model, nhead, opts))
  local o = TransformerEncoderLayer.read_options(NAME, opts)
  local t, b = o.t, o.bias
  self.self_attn = MultiheadAttention(d_model, nhead, { dropout = o.dropout, bias = b,
    batch_first = o.batch_first, dtype = t.dtype, device = t.device })
  self.linear1 = Linear(d_model, o.dim_feedforward, { bias = b, dtype = t.dtype, device = t.device })
  self.dropout = Dropout(o.dropout)
  self.linear2 = Linear(o.dim_feedforward, d_model, { bias = b, dtype = t.dtype, device = t.device })
  self.norm_first = o.norm_first
  self.norm1 = LayerNorm(d_model, { eps = o.eps, bias = b, dtype = t.dtype, device = t.device })
  self.norm2 = LayerNorm(d_model, { eps = o.eps, bias = b, dtype = t.dtype, device = t.device })
  self.dropout1 = Dropout(o.dropout)
  self.dropout2 = Dropout(o.dropout)
  self.activation = o.activation
end

function TransformerEncoderLayer:_sa_block(x, attn_mask, key_padding_mask, is_causal)
  local y = self.self_attn(x, x, x, { attn_mask = attn_mask, key_padding_mask = key_padding_mask,
    is_causal = is_causal, need_weights = false })
  return self.dropout1(y)
end

function TransformerEncoderLayer:_ff_block(x)
  return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))
end

--- @param src (S, N, E), (N, S, E) when batch_first, or (S, E)
-- @param opts {src_mask (S, S) or (N*nhead, S, S), src_key_padding_mask (N, S),
--   is_causal (with no src_mask: the causal mask)}; bool true = blocked.
--   A tensor in its place is taken as src_mask, as PyTorch's positional one.
-- @return src's shape
function TransformerEncoderLayer:forward(src, opts)
  check.tensor(NAME, 1, src, "src")
  if check.is_tensor(opts) then opts = { src_mask = opts } end
  opts = check.options(NAME, 2, opts)
  check.known_options(NAME, opts, { src_mask = true, src_key_padding_mask = true,
    is_causal = true })
  local mask, pad, causal = opts.src_mask, opts.src_key_padding_mask, opts.is_causal
  local x = src
  if self.norm_first then
    x = x + self:_sa_block(self.norm1(x), mask, pad, causal)
    x = x + self:_ff_block(self.norm2(x))
  else
    x = self.norm1(x + self:_sa_block(x, mask, pad, causal))
    x = self.norm2(x + self:_ff_block(x))
  end
  return x
end

return TransformerEncoderLayer
