-- Layer norm, attention and the Transformer layers: every case of
-- spec/reference/attention.lua (and the layer norm cases of norm.lua)
-- against PyTorch 1.13 in float64, outputs, attention weights and every
-- stored gradient; layer_norm by hand; tril/triu; finite-difference
-- gradients; OpenCL against the CPU (#opencl); the errors.
local luann = require "luann"
local nn = require "luann.nn"
local F = nn.functional
local ref = require "reference.load"
local helpers = require "helpers"

local gradcheck = luann.autograd.gradcheck
local TOL = 1e-10

local function f64(t, rg) return luann.tensor(t, { dtype = "float64", requires_grad = rg }) end
local function randn(shape, rg)
  local t = luann.randn(shape, { dtype = "float64" })
  return rg and t:requires_grad_() or t
end

-- t against a stored tensor: same shape, values within TOL.
local function assert_ref(t, stored, what)
  assert.is_not_nil(t, what)
  assert.are.same(stored.shape, t.shape, what .. " shape")
  local ok, err = pcall(helpers.assert_close, t, stored.data, TOL, TOL)
  if not ok then error(what .. ": " .. tostring(err), 2) end
end

-- Float inputs as leaves requiring grad; masks as they are.
local function leaves(inputs)
  local out = {}
  for k, v in pairs(inputs) do
    local t = ref.tensor(v)
    if t.dtype == "float64" and not k:find("mask") then t:requires_grad_() end
    out[k] = t
  end
  return out
end

-- backward of sum(output * grad_output) over the stored outputs.
local function backward(c, outs)
  local loss
  for name, g in pairs(c.grad_outputs or { output = c.grad_output }) do
    local term = (outs[name] * ref.tensor(g)):sum()
    loss = loss and loss + term or term
  end
  loss:backward()
end

local function check_outputs(c, outs)
  for name, stored in pairs(c.outputs or { output = c.output }) do
    assert_ref(outs[name], stored, name)
  end
end

-- A module case: built in float64, parameters loaded by their state_dict
-- names (rename maps PyTorch's names to ours), run, and compared.
local function run_module_case(c, m, call, rename)
  m:double()
  local sd = {}
  for name, t in pairs(c.parameters) do sd[rename and rename(name) or name] = ref.tensor(t) end
  m:load_state_dict(sd)
  local x = leaves(c.inputs)
  local outs = call(m, x)
  check_outputs(c, outs)
  backward(c, outs)
  local params = {}
  for name, p in m:named_parameters() do params[name] = p end
  for name, g in pairs(c.grads) do
    local t = x[name] or params[rename and rename(name) or name]
    assert.is_not_nil(t, "no input or parameter " .. name)
    assert_ref(t.grad, g, "grad of " .. name)
  end
end

local function mha_module(c)
  local o = c.module_options
  return nn.MultiheadAttention(o.embed_dim, o.num_heads,
    { dropout = o.dropout, bias = o.bias, batch_first = o.batch_first })
end

local function call_mha(c)
  return function(m, x)
    local out, w = m(x.query, x.key, x.value, { key_padding_mask = x.key_padding_mask,
      attn_mask = x.attn_mask, need_weights = c.options.need_weights,
      average_attn_weights = c.options.average_attn_weights })
    return { attn_output = out, attn_output_weights = w }
  end
end

local function encoder_layer(c)
  local o = c.module_options
  return nn.TransformerEncoderLayer(o.d_model, o.nhead, { dim_feedforward = o.dim_feedforward,
    dropout = o.dropout, activation = o.activation, layer_norm_eps = o.layer_norm_eps,
    batch_first = o.batch_first, norm_first = o.norm_first })
end

local function call_encoder(m, x)
  return { output = m(x.src, { src_mask = x.src_mask, src_key_padding_mask = x.src_key_padding_mask }) }
end

-- Sorted case names of a family that start with prefix.
local function cases(family, prefix)
  local names = {}
  for name in pairs(ref.family(family)) do
    if name:sub(1, #prefix) == prefix then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

describe("attention", function()
  setup(function() luann.manual_seed(8) end)

  describe("tril, triu", function()
    local x = luann.arange(1, 13, { dtype = "float64" }):view(3, 4)

    it("keep the lower / upper triangle from a diagonal", function()
      assert.are.same({ { 1, 0, 0, 0 }, { 5, 6, 0, 0 }, { 9, 10, 11, 0 } }, luann.tril(x):tolist())
      assert.are.same({ { 1, 2, 0, 0 }, { 5, 6, 7, 0 }, { 9, 10, 11, 12 } }, x:tril(1):tolist())
      assert.are.same({ { 0, 0, 0, 0 }, { 5, 0, 0, 0 }, { 9, 10, 0, 0 } }, x:tril(-1):tolist())
      assert.are.same({ { 1, 2, 3, 4 }, { 0, 6, 7, 8 }, { 0, 0, 11, 12 } }, luann.triu(x):tolist())
      assert.are.same({ { 0, 2, 3, 4 }, { 0, 0, 7, 8 }, { 0, 0, 0, 12 } }, x:triu(1):tolist())
      assert.are.same({ { 1, 2, 3, 4 }, { 5, 6, 7, 8 }, { 0, 10, 11, 12 } },
        luann.triu(x, { diagonal = -1 }):tolist())
    end)

    it("work on the last two dims of a batch, on views, and on bools and ints", function()
      local b = luann.arange(0, 12, { dtype = "int64" }):view(2, 2, 3)
      assert.are.same({ { { 0, 0, 0 }, { 3, 4, 0 } }, { { 6, 0, 0 }, { 9, 10, 0 } } }, b:tril():tolist())
      assert.are.same({ { 1, 0, 0 }, { 2, 6, 0 }, { 3, 7, 11 }, { 4, 8, 12 } }, x:t():tril():tolist())
      local ones = luann.ones(2, 3, { dtype = "bool" })
      assert.are.same({ { false, true, true }, { false, false, true } }, ones:triu(1):tolist())
      assert.equal("bool", ones:triu(1).dtype)
      assert.are.same({ 0, 4 }, luann.tril(luann.zeros(0, 4)).shape)
    end)

    it("have finite-difference gradients", function()
      local a = randn({ 2, 3, 4 }, true)
      assert.is_true(gradcheck(function(t) return luann.tril(t, 1) end, { a }))
      assert.is_true(gradcheck(function(t) return t:triu(-1) end, { a }))
    end)

    it("name the op and the shape when the input has fewer than 2 dims", function()
      assert.has_error(function() luann.tril(luann.ones(3)) end,
        "tril: expected a tensor of at least 2 dims, got shape (3,)")
      assert.has_error(function() luann.ones(3):triu() end,
        "triu: expected a tensor of at least 2 dims, got shape (3,)")
    end)
  end)

  describe("F.layer_norm", function()
    it("normalises over the last dims, by hand", function()
      local rows = { { 1, 2, 4, 7 }, { -3, 0.5, 2, 2 } }
      local w, b = { 1, -2, 0.5, 3 }, { 0.1, 0, -1, 2 }
      local y = F.layer_norm(f64(rows), { 4 }, f64(w), f64(b), 1e-3):tolist()
      for i, r in ipairs(rows) do
        local mean, var = 0, 0
        for _, v in ipairs(r) do mean = mean + v / 4 end
        for _, v in ipairs(r) do var = var + (v - mean) ^ 2 / 4 end
        for j, v in ipairs(r) do
          local want = (v - mean) / math.sqrt(var + 1e-3) * w[j] + b[j]
          assert.is_true(math.abs(y[i][j] - want) < 1e-12, ("(%d,%d): %g vs %g"):format(i, j, y[i][j], want))
        end
      end
      local two = F.layer_norm(f64(rows), { 2, 4 }):view(-1):tolist()
      local all, mean, var = helpers.flat(rows), 0, 0
      for _, v in ipairs(all) do mean = mean + v / 8 end
      for _, v in ipairs(all) do var = var + (v - mean) ^ 2 / 8 end
      for k, v in ipairs(all) do
        assert.is_true(math.abs(two[k] - (v - mean) / math.sqrt(var + 1e-5)) < 1e-12)
      end
    end)

    for _, name in ipairs(cases("norm", "layer_norm")) do
      it("matches PyTorch: " .. name, function()
        local c = ref.case("norm", name)
        local x = leaves(c.inputs)
        local y = F.layer_norm(x.input, c.options.normalized_shape, x.weight, x.bias, c.options.eps)
        check_outputs(c, { output = y })
        backward(c, { output = y })
        for k, g in pairs(c.grads) do assert_ref(x[k].grad, g, "grad of " .. k) end
      end)
    end

    it("has finite-difference gradients", function()
      local x, w, b = randn({ 2, 3, 4 }, true), randn({ 3, 4 }, true), randn({ 3, 4 }, true)
      assert.is_true(gradcheck(function(a, ww, bb) return F.layer_norm(a, { 3, 4 }, ww, bb) end, { x, w, b }))
      assert.is_true(gradcheck(function(a) return F.layer_norm(a, 4) end, { x }))
      assert.is_true(gradcheck(function(a, ww) return F.layer_norm(a, { 3, 4 }, ww) end, { x, w }))
      assert.is_true(gradcheck(function(a, bb) return F.layer_norm(a, { 3, 4 }, nil, bb) end, { x, b }))
      local t = randn({ 4, 3 }, true) -- a transposed (strided) input
      assert.is_true(gradcheck(function(a, ww) return F.layer_norm(a:t(), 4, ww:select(1, 1)) end, { t, w }))
    end)

    -- The one-pass op (core/op_layernorm.c) against the composite it replaced, in float32.
    it("matches mean, var and rsqrt in float32, gradients included", function()
      luann.manual_seed(4)
      for _, shape in ipairs({ { 3, 5, 96 }, { 7, 1 }, { 2, 300 } }) do
        local n = shape[#shape]
        local x = luann.randn(shape):requires_grad_()
        local w, b = luann.randn(n):requires_grad_(), luann.randn(n):requires_grad_()
        local g = luann.randn(shape)
        F.layer_norm(x, { n }, w, b):backward(g)
        local fused = { x.grad, w.grad, b.grad }
        x.grad, w.grad, b.grad = nil, nil, nil
        local centred = x - x:mean(-1, true)
        local y = centred * luann.rsqrt((centred * centred):mean(-1, true) + 1e-5) * w + b
        y:backward(g)
        assert.is_true(luann.allclose(F.layer_norm(x, { n }, w, b), y, 1e-5, 1e-5))
        for i, t in ipairs({ x, w, b }) do
          assert.is_true(luann.allclose(fused[i], t.grad, 1e-4, 1e-4), "gradient " .. i)
        end
      end
    end)

    it("nn.LayerNorm starts at ones and zeros and matches F", function()
      local m = nn.LayerNorm(4):double()
      assert.are.same({ 1, 1, 1, 1 }, m.weight:tolist())
      assert.are.same({ 0, 0, 0, 0 }, m.bias:tolist())
      local x = randn({ 3, 4 })
      assert.is_true(luann.allclose(F.layer_norm(x, { 4 }), m(x)))
      local bare = nn.LayerNorm({ 3, 4 }, { eps = 1e-6, elementwise_affine = false })
      assert.is_nil(bare.weight)
      assert.equal(0, #bare:parameters())
      assert.equal("LayerNorm((3, 4), eps=1e-06, elementwise_affine=false)", tostring(bare))
    end)

    it("names the op and the shapes when they do not fit", function()
      assert.has_error(function() F.layer_norm(luann.ones(2, 3), { 4 }) end,
        "layer_norm: normalized_shape (4) does not match the last dims of input shape (2,3)")
      assert.has_error(function() F.layer_norm(luann.ones(2, 3), 3, luann.ones(4)) end,
        "layer_norm: weight of shape (4) does not match normalized_shape (3)")
    end)
  end)

  describe("F.scaled_dot_product_attention", function()
    for _, name in ipairs(cases("attention", "sdpa_")) do
      it("matches PyTorch: " .. name, function()
        local c = ref.case("attention", name)
        local x = leaves(c.inputs)
        local y = F.scaled_dot_product_attention(x.query, x.key, x.value, { attn_mask = x.attn_mask,
          is_causal = c.options.is_causal, dropout_p = c.options.dropout_p })
        check_outputs(c, { output = y })
        backward(c, { output = y })
        for k, g in pairs(c.grads) do assert_ref(x[k].grad, g, "grad of " .. k) end
      end)
    end

    it("takes a scale, and is_causal with a mask", function()
      local q, k, v = randn({ 2, 3, 4 }), randn({ 2, 3, 4 }), randn({ 2, 3, 2 })
      local a = F.scaled_dot_product_attention(q, k, v, { scale = 0.3 })
      local b = F.scaled_dot_product_attention(q * (0.3 * 2), k, v)
      assert.is_true(luann.allclose(a, b, 1e-12, 1e-12))
      local causal = luann.ones(3, 3, { dtype = "bool" }):tril()
      local c1 = F.scaled_dot_product_attention(q, k, v, { is_causal = true })
      local c2 = F.scaled_dot_product_attention(q, k, v, { attn_mask = causal })
      assert.is_true(luann.allclose(c1, c2, 1e-12, 1e-12))
    end)

    it("has finite-difference gradients", function()
      local q, k, v = randn({ 2, 3, 4 }, true), randn({ 2, 5, 4 }, true), randn({ 2, 5, 3 }, true)
      local mask = randn({ 3, 5 })
      local blocked = luann.ones(3, 5, { dtype = "bool" }):triu(2)
      assert.is_true(gradcheck(function(a, b, c)
        return F.scaled_dot_product_attention(a, b, c, { attn_mask = mask })
      end, { q, k, v }))
      assert.is_true(gradcheck(function(a, b, c)
        return F.scaled_dot_product_attention(a, b, c, { attn_mask = blocked:logical_not(), is_causal = true })
      end, { q, k, v }))
    end)

    -- Without a mask (or with is_causal) and without dropout, one op
    -- (core/op_attention.c) does the work: it must agree with the composite.
    local function composite(q, k, v, scale, causal)
      local s = luann.matmul(q, k:transpose(-2, -1)) * scale
      if causal then
        s = s:masked_fill(luann.ones(q:size(-2), k:size(-2), { dtype = "bool" }):triu(1), -math.huge)
      end
      return luann.matmul(luann.softmax(s, -1), v)
    end
    local shapes = { -- batch, heads, L, S, E, Ev: odd sizes cross the kernel's 16-float blocks
      { 2, 3, 5, 7, 4, 6 }, { 1, 1, 64, 64, 24, 24 }, { 2, 2, 17, 33, 5, 19 }, { 1, 3, 40, 9, 16, 32 },
      { 1, 1, 1, 1, 1, 1 }, { 1, 2, 70, 70, 33, 17 },
    }

    it("runs as one op that matches the composite in float32, gradients included", function()
      luann.manual_seed(5)
      for _, c in ipairs(shapes) do
        local B, H, L, S, E, Ev = table.unpack(c)
        for _, causal in ipairs({ false, true }) do
          local q = luann.randn(B, H, L, E):requires_grad_()
          local k = luann.randn(B, H, S, E):requires_grad_()
          local v = luann.randn(B, H, S, Ev):requires_grad_()
          local g = luann.randn(B, H, L, Ev)
          local what = table.concat(c, ",") .. (causal and " causal" or "")
          local y = F.scaled_dot_product_attention(q, k, v, { is_causal = causal, scale = 0.3 })
          assert.equal("AttentionBackward", y.grad_fn, what)
          y:backward(g)
          local fused = { q.grad, k.grad, v.grad }
          q.grad, k.grad, v.grad = nil, nil, nil
          local want = composite(q, k, v, 0.3, causal)
          want:backward(g)
          assert.is_true(luann.allclose(y, want, 1e-5, 1e-5), what)
          for i, t in ipairs({ q, k, v }) do
            assert.is_true(luann.allclose(fused[i], t.grad, 1e-5, 1e-5), what .. ": gradient " .. i)
          end
        end
      end
    end)

    it("runs as one op on strided views of a packed projection", function()
      local qkv = randn({ 2, 5, 3 * 6 }, true)
      local function heads(t, causal)
        local x = t:view(2, 5, 3, 2, 3):permute(3, 1, 4, 2, 5) -- (3, N, H, L, E), as char_transformer.lua
        return F.scaled_dot_product_attention(x[1], x[2], x[3], { is_causal = causal })
      end
      for _, causal in ipairs({ false, true }) do
        local x = qkv:view(2, 5, 3, 2, 3):permute(3, 1, 4, 2, 5)
        local want = composite(x[1], x[2], x[3], 1 / math.sqrt(3), causal)
        assert.is_true(luann.allclose(heads(qkv, causal), want, 1e-12, 1e-12))
        assert.is_true(gradcheck(function(t) return heads(t, causal) end, { qkv }))
      end
    end)

    it("has finite-difference gradients as one op", function()
      local q, k, v = randn({ 2, 3, 4 }, true), randn({ 2, 5, 4 }, true), randn({ 2, 5, 3 }, true)
      for _, causal in ipairs({ false, true }) do
        assert.is_true(gradcheck(function(a, b, c)
          return F.scaled_dot_product_attention(a, b, c, { is_causal = causal, scale = 0.7 })
        end, { q, k, v }))
        assert.is_true(gradcheck(function(a, b, c) -- more queries than keys
          return F.scaled_dot_product_attention(b, a:narrow(2, 1, 2), c:narrow(2, 1, 2), { is_causal = causal })
        end, { q, k, v }))
      end
    end)

    it("drops attention weights with dropout_p", function()
      local q, k, v = randn({ 1, 3, 4 }), randn({ 1, 6, 4 }), luann.ones(1, 6, 2, { dtype = "float64" })
      assert.equal(0, F.scaled_dot_product_attention(q, k, v, { dropout_p = 1 }):abs():sum():item())
    end)

    it("names the op and the shapes when they do not fit", function()
      local q, k = luann.ones(2, 3, 4), luann.ones(2, 5, 4)
      assert.has_error(function() F.scaled_dot_product_attention(q, luann.ones(2, 5, 3), k) end,
        "scaled_dot_product_attention: query (2,3,4), key (2,5,3) and value (2,5,4) do not fit "
        .. "(expected (..., L, E), (..., S, E) and (..., S, Ev))")
      assert.has_error(function() F.scaled_dot_product_attention(q, k, luann.ones(2, 4, 4)) end,
        "scaled_dot_product_attention: query (2,3,4), key (2,5,4) and value (2,4,4) do not fit "
        .. "(expected (..., L, E), (..., S, E) and (..., S, Ev))")
      assert.has_error(function()
        F.scaled_dot_product_attention(q, k, k, { attn_mask = luann.ones(3, 4) })
      end, "scaled_dot_product_attention: attn_mask of shape (3,4) does not broadcast to the "
        .. "scores' (..., L, S) = (..., 3, 5)")
      assert.has_error(function() F.scaled_dot_product_attention(q, k, k, { causal = true }) end,
        "scaled_dot_product_attention: unknown option 'causal' (known: attn_mask, dropout_p, is_causal, scale)")
    end)
  end)

  describe("nn.MultiheadAttention", function()
    for _, name in ipairs(cases("attention", "mha_")) do
      it("matches PyTorch: " .. name, function()
        local c = ref.case("attention", name)
        run_module_case(c, mha_module(c), call_mha(c))
      end)
    end

    it("has PyTorch's parameter names and initial biases", function()
      local m = nn.MultiheadAttention(4, 2)
      local names = {}
      for name, p in m:named_parameters() do names[#names + 1] = name .. tostring(p.shape[1]) end
      assert.are.same({ "in_proj_weight12", "in_proj_bias12", "out_proj.weight4", "out_proj.bias4" }, names)
      assert.equal(0, m.in_proj_bias:abs():sum():item())
      assert.equal(0, m.out_proj.bias:abs():sum():item())
      assert.equal(2, #nn.MultiheadAttention(4, 2, { bias = false }):parameters())
    end)

    -- Self-attention projects with one packed product, and without weights,
    -- masks or dropout it attends in one op: the same results as the
    -- general path (separate products, composite attention).
    it("attends alike by its fast path and its general one", function()
      for _, bf in ipairs({ true, false }) do
        local m = nn.MultiheadAttention(8, 2, { batch_first = bf }):double()
        local x = randn({ 3, 5, 8 }, true)
        local L = bf and 5 or 3
        local blocked = luann.ones(L, L, { dtype = "bool" }):triu(1)
        local fast = m(x, x, x, { need_weights = false, is_causal = true })
        local general = m(x, x:clone(), x:clone(), { attn_mask = blocked })
        assert.is_true(luann.allclose(fast, general, 1e-12, 1e-12))
        assert.is_true(gradcheck(function(t) return m(t, t, t, { need_weights = false }) end, { x }))
        assert.is_true(gradcheck(function(t)
          return m(t, t, t, { need_weights = false, is_causal = true })
        end, { x }))
      end
    end)

    it("takes unbatched input, and need_weights = false gives no weights", function()
      local m = nn.MultiheadAttention(4, 2):double()
      local x, mem = randn({ 3, 4 }), randn({ 5, 4 })
      local out, w = m(x, mem, mem)
      assert.are.same({ 3, 4 }, out.shape)
      assert.are.same({ 3, 5 }, w.shape)
      local batched = m(x:unsqueeze(2), mem:unsqueeze(2), mem:unsqueeze(2))
      assert.is_true(luann.allclose(out, batched:squeeze(2), 1e-12, 1e-12))
      local _, none = m(x, mem, mem, { need_weights = false })
      assert.is_nil(none)
    end)

    it("is_causal is the upper triangle blocked", function()
      local m = nn.MultiheadAttention(4, 2, { batch_first = true }):double()
      local x = randn({ 2, 3, 4 })
      local blocked = luann.ones(3, 3, { dtype = "bool" }):triu(1)
      local a = m(x, x, x, { is_causal = true })
      local b, w = m(x, x, x, { attn_mask = blocked })
      assert.is_true(luann.allclose(a, b, 1e-12, 1e-12))
      assert.equal(0, w:masked_select(blocked:unsqueeze(1):expand(2, 3, 3)):abs():sum():item())
    end)

    it("has finite-difference gradients (a tiny one)", function()
      local m = nn.MultiheadAttention(4, 2, { batch_first = true }):double()
      local q, k = randn({ 1, 2, 4 }, true), randn({ 1, 3, 4 }, true)
      local pad = luann.tensor({ { false, true, false } }, { dtype = "bool" })
      assert.is_true(gradcheck(function(a, b)
        return (m(a, b, b, { key_padding_mask = pad }))
      end, { q, k, m.in_proj_weight, m.in_proj_bias, m.out_proj.weight, m.out_proj.bias }))
    end)

    it("names the op and the shapes when they do not fit", function()
      assert.has_error(function() nn.MultiheadAttention(6, 4) end,
        "nn.MultiheadAttention: embed_dim (6) must be divisible by num_heads (4)")
      local m = nn.MultiheadAttention(4, 2)
      local x = luann.ones(3, 2, 4)
      assert.has_error(function() m(x, luann.ones(5, 2, 4), luann.ones(6, 2, 4)) end,
        "nn.MultiheadAttention: key (5,2,4) and value (6,2,4) should have the same shape, "
        .. "and the batch size of query (3,2,4)")
      assert.has_error(function() m(x, luann.ones(5, 2, 3), luann.ones(5, 2, 3)) end,
        "nn.MultiheadAttention: query (3,2,4), key (5,2,3) and value (5,2,3) should end in embed_dim 4")
      assert.has_error(function() m(x, luann.ones(5, 4), x) end,
        "nn.MultiheadAttention: query (3,2,4), key (5,4) and value (3,2,4) should all be 3-dim "
        .. "(batched) or 2-dim (unbatched)")
      assert.has_error(function() m(x, x, x, { attn_mask = luann.ones(3, 4) }) end,
        "nn.MultiheadAttention: attn_mask of shape (3,4) should be (L, S) = (3, 3) or "
        .. "(N*num_heads, L, S) = (4, 3, 3)")
      assert.has_error(function()
        m(x, x, x, { key_padding_mask = luann.ones(3, 2, { dtype = "bool" }) })
      end, "nn.MultiheadAttention: key_padding_mask of shape (3,2) should be (N, S) = (2, 3)")
      assert.has_error(function() F.multi_head_attention_forward(x, luann.ones(3, 2, 3), x, 2, {}) end,
        "multi_head_attention_forward: query (3,2,4), key (3,2,3) and value (3,2,4) do not fit "
        .. "(expected (N, L, E), (N, S, E) and (N, S, E), E divisible by num_heads 2)")
    end)
  end)

  describe("nn.TransformerEncoderLayer", function()
    for _, name in ipairs(cases("attention", "encoder_layer")) do
      it("matches PyTorch: " .. name, function()
        local c = ref.case("attention", name)
        run_module_case(c, encoder_layer(c), call_encoder)
      end)
    end

    it("has PyTorch's submodules", function()
      local names = {}
      for name in nn.TransformerEncoderLayer(4, 2):named_children() do names[#names + 1] = name end
      assert.are.same({ "self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1",
        "dropout2" }, names)
      assert.has_error(function() nn.TransformerEncoderLayer(4, 2, { activation = "tanh" }) end,
        "nn.TransformerEncoderLayer: bad argument #3 'activation' (expected one of \"relu\", \"gelu\", got \"tanh\")")
    end)
  end)

  describe("nn.TransformerEncoder", function()
    local c = ref.case("attention", "encoder_layer_pre_relu_padding")
    -- PyTorch numbers the layers from 0, luann's ModuleList from 1.
    local function from_torch(name) return (name:gsub("^layers%.(%d+)%.", function(i)
      return "layers." .. (tonumber(i) + 1) .. "." end)) end

    it("matches PyTorch with one layer, named layers.1.*", function()
      local enc = nn.TransformerEncoder(encoder_layer(c), 1)
      run_module_case(c, enc, function(m, x)
        return { output = m(x.src, { src_key_padding_mask = x.src_key_padding_mask }) }
      end, function(name) return from_torch("layers.0." .. name) end)
    end)

    it("deep-copies the layer: same start, own parameters", function()
      local layer = encoder_layer(c):double()
      local enc = nn.TransformerEncoder(layer, 2, { norm = nn.LayerNorm(4):double() })
      local sd = enc:state_dict()
      assert.is_not_nil(sd["layers.2.self_attn.out_proj.weight"])
      assert.is_not_nil(sd["norm.weight"])
      assert.are.same(layer.linear1.weight:tolist(), enc.layers[2].linear1.weight:tolist())
      assert.are_not.equal(layer.linear1.weight, enc.layers[1].linear1.weight)
      assert.are_not.equal(enc.layers[1].linear1.weight, enc.layers[2].linear1.weight)
      enc:eval()
      local x = randn({ 2, 3, 4 })
      local want = enc.norm(layer:eval()(layer(x)))
      assert.is_true(luann.allclose(enc(x), want, 1e-12, 1e-12))
      do local guard <close> = luann.no_grad(); layer.linear1.weight:fill_(0) end
      assert.is_true(luann.allclose(enc(x), want, 1e-12, 1e-12))
    end)

    it("refuses a module it cannot copy", function()
      assert.has_error(function() nn.TransformerEncoder(nn.Linear(2, 2), 2) end,
        "nn.TransformerEncoder: cannot copy a Linear (only modules that keep their constructor's "
        .. "arguments, such as the Transformer layers)")
    end)
  end)

  describe("nn.TransformerDecoderLayer", function()
    it("has PyTorch's submodules", function()
      local names = {}
      for name in nn.TransformerDecoderLayer(4, 2):named_children() do names[#names + 1] = name end
      assert.are.same({ "self_attn", "multihead_attn", "linear1", "dropout", "linear2", "norm1",
        "norm2", "norm3", "dropout1", "dropout2", "dropout3" }, names)
    end)

    for _, norm_first in ipairs({ false, true }) do
      it("composes its blocks (norm_first = " .. tostring(norm_first) .. ")", function()
        local d = nn.TransformerDecoderLayer(4, 2, { dim_feedforward = 6, dropout = 0,
          batch_first = true, norm_first = norm_first }):double()
        local tgt, mem = randn({ 2, 3, 4 }), randn({ 2, 5, 4 })
        local mpad = luann.tensor({ { false, false, true, false, false }, { false, false, false, false, true } },
          { dtype = "bool" })
        local causal = luann.ones(3, 3, { dtype = "bool" }):triu(1)
        local function sa(x) return (d.self_attn(x, x, x, { attn_mask = causal })) end
        local function ca(x) return (d.multihead_attn(x, mem, mem, { key_padding_mask = mpad })) end
        local function ff(x) return d.linear2(luann.relu(d.linear1(x))) end
        local x = tgt
        if norm_first then
          x = x + sa(d.norm1(x)); x = x + ca(d.norm2(x)); x = x + ff(d.norm3(x))
        else
          x = d.norm1(x + sa(x)); x = d.norm2(x + ca(x)); x = d.norm3(x + ff(x))
        end
        local got = d(tgt, mem, { tgt_is_causal = true, memory_key_padding_mask = mpad })
        assert.is_true(luann.allclose(got, x, 1e-12, 1e-12))
        local masked = d(tgt, mem, { tgt_mask = causal, memory_key_padding_mask = mpad })
        assert.is_true(luann.allclose(masked, x, 1e-12, 1e-12))
        local dec = nn.TransformerDecoder(d, 2)
        assert.are.same({ 2, 3, 4 }, dec(tgt, mem, { tgt_is_causal = true }).shape)
      end)
    end
  end)
end)

-- ---- OpenCL against the CPU ---------------------------------------------------

local HAVE = #luann.opencl.devices() > 0
local GPU = "opencl"

local function flat(t)
  t = t:cpu()
  if t.dtype == "bool" then t = t:long() end
  return t:double():reshape(-1):tolist()
end

local function assert_same(cpu, dev, what)
  assert.equal(GPU .. ":0", dev.device, what .. " device")
  assert.are.same(cpu.shape, dev.shape, what .. " shape")
  local x, y = flat(cpu), flat(dev)
  local tol = cpu.dtype == "float32" and { rtol = 2e-5, atol = 2e-6 } or { rtol = 1e-12, atol = 1e-13 }
  for i = 1, #x do
    local a, b = x[i], y[i]
    if not (a == b or (a ~= a and b ~= b) or math.abs(a - b) <= tol.atol + tol.rtol * math.abs(a)) then
      error(string.format("%s: element %d differs: cpu %.10g, opencl %.10g", what, i, a, b), 2)
    end
  end
end

-- f on copies of inputs on the CPU and on OpenCL (float ones requiring
-- grad), modules moved alike; outputs and input gradients compared.
local function both(f, inputs, module)
  local outs, grads, weights = {}, {}, {}
  for _, dev in ipairs({ "cpu", GPU }) do
    local xs = {}
    for i, x in ipairs(inputs) do
      xs[i] = dev == "cpu" and x:clone() or x:to(dev)
      if x.dtype == "float32" or x.dtype == "float64" then xs[i] = xs[i]:detach():requires_grad_() end
    end
    if module then module:to(dev) end
    local list = { f(table.unpack(xs, 1, #inputs)) }
    outs[dev] = list
    for k, o in ipairs(list) do
      weights[k] = weights[k] or luann.randn(o.shape, { dtype = o.dtype })
      o:backward(weights[k]:to(dev), { retain_graph = true })
    end
    grads[dev] = {}
    for i, x in ipairs(xs) do grads[dev][i] = x.grad end
  end
  for k, o in ipairs(outs.cpu) do assert_same(o, outs[GPU][k], "output " .. k) end
  for i, g in pairs(grads.cpu) do
    assert.is_not_nil(grads[GPU][i], "gradient of input " .. i .. " on OpenCL")
    assert_same(g, grads[GPU][i], "gradient of input " .. i)
  end
end

describe("attention on OpenCL #opencl", function()
  setup(function() luann.manual_seed(9) end)
  if not HAVE then
    it("needs an OpenCL device (PoCL in CI)", function()
      assert.is_true(HAVE, "no OpenCL device: install pocl-opencl-icd, or set LUANN_NO_OPENCL=1")
    end)
    return
  end
  local function rn(...) return luann.randn({ ... }) end

  it("tril and triu", function()
    both(function(a) return luann.tril(a, 1) end, { rn(2, 3, 4) })
    both(function(a) return a:triu(-1) end, { rn(4, 3) })
    both(function(a) return a:t():tril() end, { rn(3, 5) })
  end)

  it("layer_norm", function()
    both(function(a, w, b) return F.layer_norm(a, { 4 }, w, b) end, { rn(2, 3, 4), rn(4), rn(4) })
    both(function(a) return F.layer_norm(a, { 3, 4 }) end, { rn(2, 3, 4):double() })
    both(function(a, w) return F.layer_norm(a:transpose(2, 3), { 3 }, w) end, { rn(2, 3, 5), rn(3) })
    both(function(a, b) return F.layer_norm(a, { 7 }, nil, b) end, { rn(5, 7), rn(7) })
  end)

  it("scaled_dot_product_attention", function()
    both(function(q, k, v) return F.scaled_dot_product_attention(q, k, v, { is_causal = true }) end,
      { rn(2, 3, 4), rn(2, 3, 4), rn(2, 3, 5) })
    both(function(q, k, v) return F.scaled_dot_product_attention(q, k, v, { scale = 0.5 }) end,
      { rn(2, 2, 3, 4), rn(2, 2, 6, 4), rn(2, 2, 6, 5) })
    both(function(q, k, v) return F.scaled_dot_product_attention(q, k, v, { is_causal = true }) end,
      { rn(1, 7, 4):double(), rn(1, 5, 4):double(), rn(1, 5, 2):double() })
    both(function(qkv) -- strided views of one tensor, as examples/char_transformer.lua
      local x = qkv:view(2, 5, 3, 2, 3):permute(3, 1, 4, 2, 5)
      return F.scaled_dot_product_attention(x[1], x[2], x[3], { is_causal = true })
    end, { rn(2, 5, 18) })
    local mask = luann.ones(3, 5, { dtype = "bool" }):triu(1):logical_not()
    both(function(q, k, v, m) return F.scaled_dot_product_attention(q, k, v, { attn_mask = m }) end,
      { rn(1, 2, 3, 4), rn(1, 2, 5, 4), rn(1, 2, 5, 4), mask })
  end)

  it("MultiheadAttention", function()
    local m = nn.MultiheadAttention(4, 2, { batch_first = true })
    local pad = luann.tensor({ { false, false, true }, { true, false, false } }, { dtype = "bool" })
    both(function(q, k, kpm)
      local out, w = m(q, k, k, { key_padding_mask = kpm })
      return out, w
    end, { rn(2, 2, 4), rn(2, 3, 4), pad }, m)
  end)
end)
