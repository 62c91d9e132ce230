-- Anomaly mode (luann.autograd.detect_anomaly): the op that first makes a
-- NaN or Inf is named, in forward with the traceback of its call, in
-- backward with the traceback of the forward call that recorded the node.
local luann = require "luann"
local autograd = luann.autograd

local function f64(t, grad)
  return luann.tensor(t, { dtype = "float64", requires_grad = grad or nil })
end

-- The line of the caller, to find it in a traceback.
local function here() return "anomaly_spec.lua:" .. debug.getinfo(2, "l").currentline end

-- The error message of fn(...), which must fail.
local function error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

local function has(text, plain)
  assert(text:find(plain, 1, true), ("%q not in:\n%s"):format(plain, text))
end

describe("luann.autograd anomaly mode", function()
  after_each(function() autograd.set_detect_anomaly(false) end)

  describe("switches", function()
    it("is off by default; set_detect_anomaly returns the previous setting", function()
      assert.is_false(autograd.is_anomaly_enabled())
      assert.is_false(autograd.set_detect_anomaly(true))
      assert.is_true(autograd.is_anomaly_enabled())
      assert.is_true(autograd.set_detect_anomaly(false))
      assert.is_false(autograd.is_anomaly_enabled())
      assert.has_error(function() autograd.set_detect_anomaly("yes") end,
        "set_detect_anomaly: expected a boolean, got string")
    end)

    it("as a to-be-closed scope, restores the previous state and nests", function()
      do
        local outer <close> = autograd.detect_anomaly()
        assert.is_true(autograd.is_anomaly_enabled())
        do
          local inner <close> = autograd.detect_anomaly()
          autograd.set_detect_anomaly(false)
        end
        assert.is_true(autograd.is_anomaly_enabled()) -- inner restored outer's
      end
      assert.is_false(autograd.is_anomaly_enabled())
    end)

    it("restores the state when an error unwinds the scope", function()
      local ok = pcall(function()
        local a <close> = autograd.detect_anomaly()
        luann.log(f64({ -1 }))
      end)
      assert.is_false(ok)
      assert.is_false(autograd.is_anomaly_enabled())
    end)

    it("wraps a function, passing arguments and results, restoring after errors", function()
      local probe = autograd.detect_anomaly(function(a, b)
        return autograd.is_anomaly_enabled(), a + b, "x"
      end)
      local on, sum, x = probe(1, 2)
      assert.is_true(on)
      assert.are.equal(3, sum)
      assert.are.equal("x", x)
      assert.is_false(autograd.is_anomaly_enabled())
      local failing = autograd.detect_anomaly(function(t) return luann.log(t) end)
      has(error_of(failing, f64({ -2 })), "detect_anomaly: log returned nan")
      assert.is_false(autograd.is_anomaly_enabled())
      assert.has_error(function() autograd.detect_anomaly(42) end,
        "expected a function or nothing, got number")
    end)
  end)

  describe("forward", function()
    it("names the op that makes a NaN, with the traceback of the call", function()
      local a <close> = autograd.detect_anomaly()
      local x = f64({ 1, -1, 2 })
      local line, err = here(), error_of(function() return luann.log(x) end)
      has(err, "detect_anomaly: log returned nan in its forward output "
               .. "(at element 2 of 3; 1 non-finite in all)")
      has(err, "stack traceback:")
      has(err, line)
    end)

    it("says inf and -inf, for functions, methods and operators", function()
      local a <close> = autograd.detect_anomaly()
      has(error_of(luann.exp, f64({ 1, 1000 })),
        "detect_anomaly: exp returned inf in its forward output (at element 2 of 2")
      local x = f64({ 0, 1 })
      has(error_of(function() return x:log() end), "log returned -inf")
      has(error_of(function() return x / 0 end),
        "detect_anomaly: div returned nan in its forward output (at element 1 of 2; 2 non-finite in all)")
    end)

    it("checks with and without history, on every dtype it can", function()
      local a <close> = autograd.detect_anomaly()
      local x = luann.tensor({ 4.5, -4 }, { requires_grad = true }) -- float32
      has(error_of(function() return x:sqrt() end), "sqrt returned nan")
      luann.no_grad(function()
        has(error_of(function() return x:sqrt() end), "sqrt returned nan")
      end)()
      local i = luann.tensor({ 1, 0 }) -- int64: no NaN to find
      assert.are.same({ 2, 0 }, (i * 2):tolist())
    end)

    it("leaves values the user wrote, and NaN that ops pass along", function()
      local a <close> = autograd.detect_anomaly()
      local mask = luann.full({ 2 }, -math.huge)   -- creation: the user's value
      local data = luann.tensor({ 0 / 0, 1 })
      local y = data * 2 + mask                     -- the NaN was already there
      assert.is_true(y[1] ~= y[1])
      assert.are.equal(-math.huge, y[2])
    end)

    it("changes nothing when off: no error, the same values", function()
      local x = f64({ -1, 0, 4 })
      local off = luann.log(x):tolist()
      assert.is_true(off[1] ~= off[1])
      assert.are.equal(-math.huge, off[2])
      local function run()
        local w = f64({ 0.5, -1.5, 2 }, true)
        local loss = (w:exp() * f64({ 1, 2, 3 })):sum() / 3
        loss:backward()
        return loss:item(), w.grad:tolist()
      end
      local l1, g1 = run()
      local l2, g2 = autograd.detect_anomaly(run)()
      assert.are.equal(l1, l2)
      assert.are.same(g1, g2)
    end)
  end)

  describe("backward", function()
    it("names the node whose gradient holds a NaN, with its creation traceback", function()
      local a <close> = autograd.detect_anomaly()
      local x = f64({ 0, 1 }, true)
      -- sqrt'(0) is inf, and inf * 0 is NaN: the forward is all finite
      local line, y = here(), x:sqrt()
      local loss = (y * 0):sum()
      local err = error_of(loss.backward, loss)
      has(err, "detect_anomaly: backward of 'sqrt' (SqrtBackward) returned nan in "
               .. "the gradient for its input 1 (at element 1 of 2; 1 non-finite in all)")
      has(err, "In anomaly mode, the failing node was recorded by this call:\nstack traceback:")
      has(err, line)
      -- the graph survives the error: backward again, anomaly mode off
      autograd.set_detect_anomaly(false)
      loss:backward()
      assert.is_true(x.grad[1] ~= x.grad[1])
    end)

    it("says inf, and names nodes recorded outside anomaly mode without a traceback", function()
      local x = f64({ 0, 4 }, true)
      local y = x:sqrt():sum()
      local a <close> = autograd.detect_anomaly()
      local err = error_of(y.backward, y)
      has(err, "detect_anomaly: backward of SqrtBackward returned inf in the gradient "
               .. "for its input 1 (at element 1 of 2")
      assert.is_nil(err:find("recorded", 1, true))
    end)

    it("names a custom Function whose backward returns NaN", function()
      local a <close> = autograd.detect_anomaly()
      local Broken = autograd.Function {
        name = "BrokenBackward",
        forward = function(ctx, t) return t * 2 end,
        backward = function(ctx, g) return g / 0 end, -- not checked as forward
      }
      local x = f64({ 0, 1 }, true)
      local line, y = here(), Broken(x)
      local loss = y:sum()
      local err = error_of(loss.backward, loss)
      has(err, "detect_anomaly: backward of BrokenBackward returned inf in the gradient "
               .. "for its input 1 (at element 1 of 2; 2 non-finite in all)")
      has(err, line)
    end)

    it("traces in-place nodes to the next call, saying so, without an op name", function()
      local a <close> = autograd.detect_anomaly()
      local x = f64({ 1, 2 }, true)
      local y = x * 1
      y:div_(f64({ 0, 1 })) -- no result reaches Lua here: its trace comes later
      local line, loss = here(), (y * 0):sum()
      local err = error_of(loss.backward, loss)
      has(err, "detect_anomaly: backward of DivBackward returned nan in the gradient "
               .. "for its input 1 (at element 1 of 2; 1 non-finite in all)")
      has(err, "the failing node was recorded by an in-place op run before this call")
      has(err, line)
    end)

    it("adds the creation traceback to other backward errors", function()
      local a <close> = autograd.detect_anomaly()
      local x = f64({ 1, 2 }, true)
      local line, y = here(), x:exp()
      y:add_(1) -- exp saved its output: backward must refuse
      local loss = y:sum()
      local err = error_of(loss.backward, loss)
      has(err, "ExpBackward: a tensor needed for gradient computation has been "
               .. "modified by an in-place operation")
      has(err, line)
    end)

    it("passes finite gradients through unchanged", function()
      local a <close> = autograd.detect_anomaly()
      local x = f64({ 1, 4 }, true)
      x:sqrt():sum():backward()
      assert.are.same({ 0.5, 0.25 }, x.grad:tolist())
    end)
  end)

  describe("on OpenCL tensors #opencl", function()
    it("scans device results, non-contiguous ones by their row-major order", function()
      local a <close> = autograd.detect_anomaly()
      local x = luann.tensor({ { 1, -1 }, { 2, 3 } }, "float32"):to("opencl")
      has(error_of(function() return x:t():log() end),
        "detect_anomaly: log returned nan in its forward output (at element 3 of 4; 1 non-finite in all)")
      local w = luann.tensor({ 0, 1 }, "float32"):to("opencl"):requires_grad_()
      local loss = (w:sqrt() * 0):sum()
      has(error_of(loss.backward, loss), "backward of 'sqrt' (SqrtBackward) returned nan")
    end)
  end)
end)
