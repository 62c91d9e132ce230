--- nn.MultiheadAttention: num_heads scaled dot-product attentions over
-- embed_dim / num_heads wide slices of projected queries, keys and values,
-- joined and projected again (PyTorch's, without kdim/vdim, bias_k/bias_v
-- and add_zero_attn). Masks as PyTorch's: bool true = blocked, float added.
-- @usage local mha = nn.MultiheadAttention(512, 8, {batch_first = true})
-- local out, weights = mha(x, x, x, {key_padding_mask = pad})
local luann = require "luann"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Parameter = require "luann.nn.Parameter"
local Linear = require "luann.nn.Linear"
local F = require "luann.nn.functional"
local init = require "luann.nn.initializers"

local MultiheadAttention = Module:extend("MultiheadAttention")
local NAME = "nn.MultiheadAttention"

--- in_proj_weight (3E, E) starts Xavier-uniform, the biases at zero.
-- @param embed_dim E, the model's width
-- @param num_heads dividing E
-- @param opts {dropout = 0 (on the attention weights while training),
--   bias = true, batch_first = false, dtype=, device=}
function MultiheadAttention:__init(embed_dim, num_heads, opts)
  opts = check.options(NAME, 3, opts, 3)
  check.known_options(NAME, opts, { dropout = true, bias = true, batch_first = true,
    dtype = true, device = true }, 3)
  local E = check.integer(NAME, 1, embed_dim, "embed_dim", nil, 1, 3)
  local H = check.integer(NAME, 2, num_heads, "num_heads", nil, 1, 3)
  if E % H ~= 0 then
    check.error(string.format("%s: embed_dim (%d) must be divisible by num_heads (%d)", NAME, E, H), 2)
  end
  self.embed_dim, self.num_heads, self.head_dim = E, H, E // H
  self.dropout = check.number(NAME, 3, opts.dropout, "dropout", 0, 0, 1, 3)
  self.batch_first = check.boolean(NAME, 3, opts.batch_first, "batch_first", false, 3)
  local bias = check.boolean(NAME, 3, opts.bias, "bias", true, 3)
  local topts = { dtype = opts.dtype, device = opts.device }
  self.in_proj_weight = Parameter(luann.empty(3 * E, E, topts))
  if bias then self.in_proj_bias = Parameter(luann.empty(3 * E, topts)) end
  self.out_proj = Linear(E, E, { bias = bias, dtype = opts.dtype, device = opts.device })
  self:reset_parameters()
end

--- Re-draws the parameters as PyTorch's _reset_parameters does.
function MultiheadAttention:reset_parameters()
  init.xavier_uniform_(self.in_proj_weight)
  if self.in_proj_bias ~= nil then
    init.zeros_(self.in_proj_bias)
    init.zeros_(self.out_proj.bias)
  end
end

-- Errors at the user's line unless the inputs fit; returns whether batched.
local function check_inputs(self, q, k, v)
  local s = check.shape_str
  local nd = q:dim()
  if (nd ~= 2 and nd ~= 3) or k:dim() ~= nd or v:dim() ~= nd then
    check.error(string.format("%s: query %s, key %s and value %s should all be 3-dim (batched) "
      .. "or 2-dim (unbatched)", NAME, s(q), s(k), s(v)), 2)
  end
  local E = self.embed_dim
  if q:size(nd) ~= E or k:size(nd) ~= E or v:size(nd) ~= E then
    check.error(string.format("%s: query %s, key %s and value %s should end in embed_dim %d",
      NAME, s(q), s(k), s(v), E), 2)
  end
  local bdim = self.batch_first and 1 or 2
  if not check.same_shape(k, v) or (nd == 3 and q:size(bdim) ~= k:size(bdim)) then
    check.error(string.format("%s: key %s and value %s should have the same shape, and the "
      .. "batch size of query %s", NAME, s(k), s(v), s(q)), 2)
  end
  return nd == 3
end

--- Attends from query to key/value.
-- @param query (L, N, E), (N, L, E) when batch_first, or (L, E)
-- @param key (S, N, E), (N, S, E) or (S, E)
-- @param value as key
-- @param opts {key_padding_mask (N, S) = nil, need_weights = true,
--   attn_mask (L, S) or (N*num_heads, L, S) = nil, average_attn_weights = true,
--   is_causal = false (with no attn_mask: each query sees itself and the keys
--   before it)}; bool masks are true where attention is blocked.
-- @return output as query; weights (N, L, S), or (N, num_heads, L, S) when
--   not averaged, or nil when need_weights is false
function MultiheadAttention:forward(query, key, value, opts)
  check.tensor(NAME, 1, query, "query", 3)
  check.tensor(NAME, 2, key, "key")
  check.tensor(NAME, 3, value, "value", 3)
  opts = check.options(NAME, 4, opts)
  check.known_options(NAME, opts, { key_padding_mask = true, need_weights = true,
    attn_mask = true, average_attn_weights = true, is_causal = true })
  check.opt_tensor(NAME, 4, opts.key_padding_mask, "key_padding_mask", 3)
  check.opt_tensor(NAME, 4, opts.attn_mask, "attn_mask")
  local batched = check_inputs(self, query, key, value)
  local kpm, am = opts.key_padding_mask, opts.attn_mask
  if not batched then
    query, key, value = query:unsqueeze(1), key:unsqueeze(1), value:unsqueeze(1)
    if kpm ~= nil then kpm = kpm:unsqueeze(1) end
  elseif not self.batch_first then
    local self_attention = rawequal(query, key) and rawequal(key, value)
    query = query:transpose(1, 2)
    if self_attention then -- kept one tensor: F projects it with one packed product
      key, value = query, query
    else
      key, value = key:transpose(1, 2), value:transpose(1, 2)
    end
  end
  local out, weights = F.multi_head_attention_forward(query, key, value, self.num_heads, {
    in_proj_weight = self.in_proj_weight, in_proj_bias = self.in_proj_bias,
    out_proj_weight = self.out_proj.weight, out_proj_bias = self.out_proj.bias,
  }, { key_padding_mask = kpm, attn_mask = am, is_causal = opts.is_causal,
       need_weights = opts.need_weights, average_attn_weights = opts.average_attn_weights,
       dropout_p = self.training and self.dropout or 0, caller = NAME })
  if not batched then
    out = out:squeeze(1)
    if weights ~= nil then weights = weights:squeeze(1) end
  elseif not self.batch_first then
    out = out:transpose(1, 2)
  end
  return out, weights
end

function MultiheadAttention:extra_repr()
  return string.format("embed_dim=%d, num_heads=%d, dropout=%s, batch_first=%s", self.embed_dim,
    self.num_heads, tostring(self.dropout), tostring(self.batch_first))
end

return MultiheadAttention
