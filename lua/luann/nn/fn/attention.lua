--- Layer norm and attention for nn.functional, composed from the core's ops
-- (mean, rsqrt, matmul, softmax, masked_fill), so backward and every
-- backend come for free. Masks follow PyTorch 2: in
-- scaled_dot_product_attention a bool mask is true where a query may
-- attend; in multi_head_attention_forward (as nn.MultiheadAttention) a bool
-- mask is true where it may not. A float mask is added to the scores.
-- @usage local y = F.layer_norm(x, {4}, w, b)
-- local out = F.scaled_dot_product_attention(q, k, v, {is_causal = true})
local luann = require "luann"
local check = require "luann.utils.check"

local shape_str = check.shape_str
local dropout -- F.dropout, once the family is loaded

-- A float mask with -inf where `blocked` (bool) is true, for adding.
local function additive(blocked, like)
  local zeros = luann.zeros(blocked.shape, { dtype = like.dtype, device = like.device })
  return zeros:masked_fill(blocked, -math.huge)
end

-- softmax(q k^T * scale + mask) v, and the weights (after dropout, as
-- PyTorch's MHA returns them): q (..., L, E), k (..., S, E), v (..., S, Ev);
-- mask nil or float, added to the scores.
local function attend(q, k, v, mask, dropout_p, scale)
  local scores = luann.matmul(q, k:transpose(-2, -1)) * scale
  if mask ~= nil then scores = scores + mask end
  local weights = luann.softmax(scores, -1)
  if dropout_p > 0 then weights = dropout(weights, dropout_p, true) end
  return luann.matmul(weights, v), weights
end

-- Whether core/op_attention.c's one-op attention takes q, k, v: the same
-- batch dims, one float dtype, and some keys (the composite's softmax over
-- no keys gives NaN rows).
local function fusable(q, k, v)
  local nd = q:dim()
  if q.dtype ~= k.dtype or q.dtype ~= v.dtype or (q.dtype ~= "float32" and q.dtype ~= "float64")
      or k:size(nd - 1) == 0 then
    return false
  end
  for d = 1, nd - 2 do
    if k:size(d) ~= q:size(d) or v:size(d) ~= q:size(d) then return false end
  end
  return true
end

-- The float mask added to the (N, H, L, S) scores in multi-head attention,
-- or nil: attn_mask (L, S) or (N*H, L, S), the causal one when is_causal and
-- no attn_mask, and key_padding_mask (N, S); bool ones are true = blocked.
local function head_mask(fname, am, kpm, is_causal, size, like)
  local N, H, L, S = table.unpack(size)
  local mask
  if am == nil and is_causal then
    am = luann.ones(L, S, { dtype = "bool", device = like.device }):triu(1)
  end
  if am ~= nil then
    local ok = (am:dim() == 2 and am:size(1) == L and am:size(2) == S)
      or (am:dim() == 3 and am:size(1) == N * H and am:size(2) == L and am:size(3) == S)
    if not ok then
      check.error(string.format("%s: attn_mask of shape %s should be (L, S) = (%d, %d) or "
        .. "(N*num_heads, L, S) = (%d, %d, %d)", fname, shape_str(am), L, S, N * H, L, S), 2)
    end
    if am:dim() == 3 then am = am:view(N, H, L, S) end
    mask = am.dtype == "bool" and additive(am, like) or am
  end
  if kpm ~= nil then
    if kpm:dim() ~= 2 or kpm:size(1) ~= N or kpm:size(2) ~= S then
      check.error(string.format("%s: key_padding_mask of shape %s should be (N, S) = (%d, %d)",
        fname, shape_str(kpm), N, S), 2)
    end
    kpm = kpm:view(N, 1, 1, S)
    local m = kpm.dtype == "bool" and additive(kpm, like) or kpm
    mask = mask and mask + m or m
  end
  return mask
end

return function(F)
  dropout = F.dropout

  --- Normalises over the last dims (those of normalized_shape):
  -- y = (x - mean) / sqrt(var + eps) * weight + bias, var biased.
  -- @param input (..., *normalized_shape)
  -- @param normalized_shape an integer or a list of the trailing sizes
  -- @param weight normalized_shape, or nil
  -- @param bias normalized_shape, or nil
  -- @param eps default 1e-5
  -- @return input's shape
  function F.layer_norm(input, normalized_shape, weight, bias, eps)
    check.tensor("layer_norm", 1, input, "input")
    local dims = type(normalized_shape) == "table" and normalized_shape or
      { check.integer("layer_norm", 2, normalized_shape, "normalized_shape") }
    check.opt_tensor("layer_norm", 3, weight, "weight")
    check.opt_tensor("layer_norm", 4, bias, "bias")
    eps = check.number("layer_norm", 5, eps, "eps", 1e-5, 0)
    local n, nd = #dims, input:dim()
    if math.type(n) ~= "integer" or n < 1 or n > nd then
      check.error(string.format("layer_norm: normalized_shape has %s dims, but input shape %s has %d",
        tostring(n), shape_str(input), nd), 2)
    end
    local off, fits, given = nd - n, true, {}
    for i = 1, n do
      given[i] = check.integer("layer_norm", 2, dims[i], "normalized_shape[" .. i .. "]")
      fits = fits and input:size(off + i) == given[i]
    end
    dims = given
    if not fits then
      check.error(string.format("layer_norm: normalized_shape (%s) does not match the last dims "
        .. "of input shape %s", table.concat(dims, ","), shape_str(input)), 2)
    end
    for _, name in ipairs({ "weight", "bias" }) do
      local t = name == "weight" and weight or bias
      local same = t == nil or t:dim() == n
      for i = 1, t and n or 0 do same = same and t:size(i) == dims[i] end
      if not same then
        check.error(string.format("layer_norm: %s of shape %s does not match normalized_shape (%s)",
          name, shape_str(t), table.concat(dims, ",")), 2)
      end
    end
    return luann.layer_norm(input, weight, bias, dims, eps) -- core/op_layernorm.c
  end

  --- softmax(q k^T * scale + mask) v, PyTorch 2's sdpa.
  -- @param query (..., L, E)
  -- @param key (..., S, E)
  -- @param value (..., S, Ev)
  -- @param opts {attn_mask = nil (bool: true where a query may attend;
  --   float: added to the scores; broadcast to (..., L, S)),
  --   dropout_p = 0, is_causal = false (the lower triangle may attend),
  --   scale = 1/sqrt(E)}
  -- @return (..., L, Ev)
  function F.scaled_dot_product_attention(query, key, value, opts)
    local fname = "scaled_dot_product_attention"
    check.tensor(fname, 1, query, "query")
    check.tensor(fname, 2, key, "key")
    check.tensor(fname, 3, value, "value")
    opts = check.options(fname, 4, opts)
    check.known_options(fname, opts, { attn_mask = true, dropout_p = true,
      is_causal = true, scale = true })
    local mask = check.opt_tensor(fname, 4, opts.attn_mask, "attn_mask")
    local p = check.number(fname, 4, opts.dropout_p, "dropout_p", 0, 0, 1)
    local causal = check.boolean(fname, 4, opts.is_causal, "is_causal", false)
    local nd = query:dim()
    if nd < 2 or key:dim() ~= nd or value:dim() ~= nd or query:size(nd) ~= key:size(nd)
        or key:size(nd - 1) ~= value:size(nd - 1) then
      check.error(string.format("%s: query %s, key %s and value %s do not fit (expected (..., L, E), "
        .. "(..., S, E) and (..., S, Ev))", fname, shape_str(query), shape_str(key),
        shape_str(value)), 2)
    end
    local scale = check.number(fname, 4, opts.scale, "scale", 1 / math.sqrt(query:size(nd)))
    local L, S = query:size(nd - 1), key:size(nd - 1)
    if mask == nil and p == 0 and fusable(query, key, value) then
      return luann._attention(query, key, value, scale, causal) -- core/op_attention.c
    end
    local add
    if causal then
      local blocked = luann.ones(L, S, { dtype = "bool", device = query.device }):triu(1)
      add = additive(blocked, query)
    end
    if mask ~= nil then
      local md, ok = mask:dim(), mask:dim() <= nd
      for i = 1, ok and md or 0 do
        local s, j = mask:size(i), nd - md + i
        local want = j == nd and S or j == nd - 1 and L or nil
        ok = ok and (s == 1 or s == want or (want == nil and (s == query:size(j) or s == key:size(j))))
      end
      if not ok then
        check.error(string.format("%s: attn_mask of shape %s does not broadcast to the scores' (..., L, S) "
          .. "= (..., %d, %d)", fname, shape_str(mask), L, S), 2)
      end
      local m = mask.dtype == "bool" and additive(mask:logical_not(), query) or mask
      add = add and add + m or m
    end
    return (attend(query, key, value, add, p, scale))
  end

  --- Multi-head attention as nn.MultiheadAttention runs it (batch first):
  -- in-projection, sdpa per head, out-projection.
  -- @param query (N, L, E)
  -- @param key (N, S, E)
  -- @param value (N, S, E)
  -- @param num_heads dividing E
  -- @param p {in_proj_weight (3E, E), in_proj_bias (3E) or nil,
  --   out_proj_weight (E, E), out_proj_bias (E) or nil}
  -- @param opts {key_padding_mask (N, S), attn_mask (L, S) or (N*num_heads, L, S)
  --   (bool: true = blocked; float: added), is_causal, need_weights = true,
  --   average_attn_weights = true, dropout_p = 0, caller = the name errors give}
  -- @return output (N, L, E), weights (N, L, S), per head (N, H, L, S), or nil
  function F.multi_head_attention_forward(query, key, value, num_heads, p, opts)
    opts = check.options("multi_head_attention_forward", 6, opts)
    local fname = opts.caller or "multi_head_attention_forward"
    local H = check.integer(fname, 4, num_heads, "num_heads", nil, 1)
    if query:dim() ~= 3 or not check.same_shape(key, value) or key:dim() ~= 3
        or key:size(1) ~= query:size(1) or key:size(3) ~= query:size(3) or query:size(3) % H ~= 0 then
      check.error(string.format("%s: query %s, key %s and value %s do not fit (expected (N, L, E), "
        .. "(N, S, E) and (N, S, E), E divisible by num_heads %d)", fname, shape_str(query),
        shape_str(key), shape_str(value), H), 2)
    end
    local N, L, E = query:size(1), query:size(2), query:size(3)
    local S = key:size(2)
    local hd = E // H
    local w = p.in_proj_weight
    local b = p.in_proj_bias
    local function project(x, i, T)
      local wi = w:narrow(1, (i - 1) * E + 1, E)
      local bi = b and b:narrow(1, (i - 1) * E + 1, E) or nil
      return luann.linear(x, wi, bi):view(N, T, H, hd):transpose(2, 3) -- (N, H, T, hd)
    end
    local q, k, v
    if rawequal(query, key) and rawequal(key, value) then -- self-attention: one packed product
      local qkv = luann.linear(query, w, b):view(N, L, 3, H, hd):permute(3, 1, 4, 2, 5)
      q, k, v = qkv[1], qkv[2], qkv[3]
    else
      q, k, v = project(query, 1, L), project(key, 2, S), project(value, 3, S)
    end
    local dropout_p, out, weights = opts.dropout_p or 0, nil, nil
    if opts.need_weights == false and dropout_p == 0 and opts.attn_mask == nil
        and opts.key_padding_mask == nil and fusable(q, k, v) then -- core/op_attention.c
      out = luann._attention(q, k, v, 1 / math.sqrt(hd), opts.is_causal == true)
    else
      local mask = head_mask(fname, opts.attn_mask, opts.key_padding_mask, opts.is_causal,
        { N, H, L, S }, q)
      out, weights = attend(q, k, v, mask, dropout_p, 1 / math.sqrt(hd))
    end
    out = out:transpose(2, 3):reshape(N, L, E)
    out = luann.linear(out, p.out_proj_weight, p.out_proj_bias)
    if opts.need_weights == false then return out, nil end
    if opts.average_attn_weights ~= false then weights = weights:mean(2) end
    return out, weights
  end
end
