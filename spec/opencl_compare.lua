--- Comparing OpenCL results with the CPU's, for the specs: both(f, inputs,
-- opts) runs f on CPU copies and on OpenCL copies of the inputs and checks
-- every output (each tensor f returns, or each in the list it returns) and,
-- with opts.grad, every input's gradient, within a tolerance for the dtype
-- (opts.tol / opts.gtol override it); opts.what names the case in failures.
-- @usage local cmp = require "opencl_compare"
-- if cmp.HAVE then cmp.both(function(x) return x:cumsum(1) end, { x }, { grad = true }) end
local luann = require "luann"
local assert = require "luassert" -- busted gives specs its assert, not modules

local GPU = "opencl"

local F32 = { rtol = 2e-5, atol = 2e-6 }
local F64 = { rtol = 1e-12, atol = 1e-13 }
local EXACT = { rtol = 0, atol = 0 }

local function tol_for(t, tol)
  if tol then return tol end
  if t.dtype == "float32" then return F32 end
  if t.dtype == "float64" then return F64 end
  return EXACT
end

local function flat(t)
  t = t:cpu()
  if t.dtype == "bool" then t = t:long() end
  return t:double():reshape(-1):tolist()
end

-- Errors (at the caller) unless cpu and dev hold the same values: same
-- shape and dtype, NaN where the other has NaN, within tolerance.
local function assert_same(cpu, dev, tol, what)
  what = what or "result"
  assert.equal(GPU .. ":0", dev.device, what .. " device")
  assert.same(cpu.shape, dev.shape, what .. " shape")
  assert.equal(cpu.dtype, dev.dtype, what .. " dtype")
  tol = tol_for(cpu, tol)
  local x, y = flat(cpu), flat(dev)
  for i = 1, #x do
    local a, b = x[i], y[i]
    local ok = a == b or (a ~= a and b ~= b) or
      math.abs(a - b) <= tol.atol + tol.rtol * math.abs(a)
    if not ok then
      error(string.format("%s: element %d differs: cpu %.10g, opencl %.10g", what, i, a, b), 2)
    end
  end
end

local function is_float(t) return t.dtype == "float32" or t.dtype == "float64" end

-- f's results as a list: every tensor it returned, or the list it returned.
local function as_list(r, ...)
  if luann.is_tensor(r) then return { r, ... } end
  return r
end

-- Runs f on copies of the CPU tensors `inputs` on the CPU and on OpenCL and
-- compares every output; with opts.grad, float inputs require grad and the
-- gradients of a fixed random weighting of the outputs are compared too.
local function both(f, inputs, opts)
  opts = opts or {}
  local outs, grads, weights = {}, {}, {}
  for _, dev in ipairs({ "cpu", GPU }) do
    local xs = {}
    for i, x in ipairs(inputs) do
      xs[i] = dev == "cpu" and x:clone() or x:to(dev) -- in-place ops must not touch x
      if opts.grad and is_float(x) then xs[i] = xs[i]:detach():requires_grad_() end
    end
    local list = as_list(f(table.unpack(xs, 1, #inputs)))
    outs[dev] = list
    if opts.grad then
      for k, o in ipairs(list) do
        if o.requires_grad then
          weights[k] = weights[k] or luann.randn(o.shape, { dtype = o.dtype })
          o:backward(weights[k]:to(dev), { retain_graph = true })
        end
      end
      grads[dev] = {}
      for i, x in ipairs(xs) do grads[dev][i] = x.grad end
    end
  end
  local what = opts.what and opts.what .. ": " or ""
  assert.equal(#outs.cpu, #outs[GPU], what .. "number of outputs")
  for k, o in ipairs(outs.cpu) do
    assert_same(o, outs[GPU][k], opts.tol, what .. "output " .. k)
  end
  if opts.grad then
    for i, g in pairs(grads.cpu) do
      assert.is_not_nil(grads[GPU][i], what .. "gradient of input " .. i .. " on OpenCL")
      assert_same(g, grads[GPU][i], opts.gtol or opts.tol, what .. "gradient of input " .. i)
    end
  end
  return outs.cpu, outs[GPU]
end

return {
  HAVE = #luann.opencl.devices() > 0, GPU = GPU, F32 = F32, F64 = F64, EXACT = EXACT,
  assert_same = assert_same, both = both,
}
