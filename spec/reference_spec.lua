-- The PyTorch reference files (spec/reference/*.lua): each loads, every
-- stored tensor is well formed, and two cases recomputed here by hand agree
-- with them, so the pipeline is proven before the ops exist.
local ref = require "reference.load"
local helpers = require "helpers"

local FAMILIES = { "conv", "pool", "norm", "recurrent", "attention", "tensor_ops" }

-- The element type each stored dtype must hold.
local KIND = { float64 = "float", int64 = "integer", bool = "boolean" }

-- Every {shape, data} table under v, with its path.
local function tensors(v, path, out)
  if type(v) ~= "table" then return out end
  if v.shape and v.data then
    out[#out + 1] = { path = path, t = v }
    return out
  end
  for k, x in pairs(v) do tensors(x, path .. "." .. tostring(k), out) end
  return out
end

local function kind(x)
  return type(x) == "boolean" and "boolean" or math.type(x)
end

describe("reference", function()
  for _, family in ipairs(FAMILIES) do
    it(family .. " cases have an op or module, and well-formed tensors", function()
      local cases = ref.family(family)
      assert.is_not_nil(next(cases), "no cases")
      for name, c in pairs(cases) do
        assert(c.op or c.module, name .. ": neither op nor module")
        assert(c.inputs or c.steps, name .. ": no inputs")
        local all = tensors(c, family .. "." .. name, {})
        assert(#all > 0, name .. ": no tensors")
        for _, e in ipairs(all) do
          local n = 1
          for _, d in ipairs(e.t.shape) do n = n * d end
          assert(n == #e.t.data, e.path .. ": shape and data disagree")
          local want = KIND[e.t.dtype or "float64"]
          for _, x in ipairs(e.t.data) do
            assert(kind(x) == want, e.path .. ": " .. kind(x) .. " in " .. want)
          end
        end
      end
    end)
  end

  it("names a missing case at the caller's line", function()
    assert.has.error(function() ref.case("conv", "nope") end,
      "no reference case conv.nope")
  end)

  -- input 1..9 (3x3), all-ones 3x3 kernel, padding 1: each output is the
  -- sum of the input's 3x3 neighbourhood; the input's grad is the same sum
  -- over grad_output, and weight[a][b] sums grad_output times shifted input.
  it("conv2d_ones_hand agrees with a hand computation", function()
    local c = ref.case("conv", "conv2d_ones_hand")
    local x, g = c.inputs.input.data, c.grad_output.data
    local function at(v, i, j)
      return (i >= 1 and i <= 3 and j >= 1 and j <= 3) and v[(i - 1) * 3 + j] or 0
    end
    local out, gin, gw = {}, {}, {}
    for i = 1, 3 do
      for j = 1, 3 do
        local s, sg, sw = 0, 0, 0
        for a = -1, 1 do
          for b = -1, 1 do
            s, sg = s + at(x, i + a, j + b), sg + at(g, i + a, j + b)
          end
        end
        for p = 1, 3 do
          for q = 1, 3 do sw = sw + at(g, p, q) * at(x, p + i - 2, q + j - 2) end
        end
        out[#out + 1], gin[#gin + 1], gw[#gw + 1] = s, sg, sw
      end
    end
    assert.are.same({ 12, 21, 16, 27, 45, 33, 24, 39, 28 }, out)
    helpers.assert_close(ref.tensor(c.output), out, 0, 0)
    helpers.assert_close(ref.tensor(c.grads.input), gin, 1e-12, 1e-12)
    helpers.assert_close(ref.tensor(c.grads.weight), gw, 1e-12, 1e-12)
  end)

  -- Max pool indices are 0-based flat positions in each (n, c) plane.
  it("max_pool2d_plain indices point at the outputs in the input", function()
    local c = ref.case("pool", "max_pool2d_plain")
    local x, out = c.inputs.input.data, c.outputs.output.data
    local idx = c.outputs.indices
    local plane_in = c.inputs.input.shape[3] * c.inputs.input.shape[4]
    local plane_out = idx.shape[3] * idx.shape[4]
    for k, i in ipairs(idx.data) do
      local plane = (k - 1) // plane_out
      assert.are.equal(out[k], x[plane * plane_in + i + 1])
    end
    local t = ref.tensor(idx)
    assert.are.same(idx.shape, t.shape)
    assert.are.equal("int64", t.dtype)
  end)

  it("builds tensors of the stored shape and dtype", function()
    local c = ref.case("conv", "conv2d_stride2_padding")
    local w = ref.tensor(c.inputs.weight, "float32")
    assert.are.same(c.inputs.weight.shape, w.shape)
    assert.are.equal("float32", w.dtype)
    local bn = ref.case("norm", "batch_norm_2d_affine")
    local t = ref.tensor(bn.steps[1].buffers.num_batches_tracked)
    assert.are.same({}, t.shape)
    assert.are.equal(1, t:item())
  end)
end)
