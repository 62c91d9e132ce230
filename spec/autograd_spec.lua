-- Reverse-mode autograd: the engine, grad mode, in-place checks, custom
-- functions and gradcheck itself. Op-specific gradients live in each op
-- family's spec.
local luann = require "luann"
local gradcheck = luann.autograd.gradcheck

local function f64(t) return luann.tensor(t, { dtype = "float64", requires_grad = true }) end

describe("luann autograd", function()
  describe("backward", function()
    it("computes and accumulates gradients on leaves", function()
      local x = f64({ 1, 2, 3 })
      local y = f64({ 4, 5, 6 })
      local z = (x * y + x):sum() -- dz/dx = y + 1, dz/dy = x
      z:backward()
      assert.are.same({ 5, 6, 7 }, x.grad:tolist())
      assert.are.same({ 1, 2, 3 }, y.grad:tolist())
      local z2 = (x * 2):sum()
      z2:backward()
      assert.are.same({ 7, 8, 9 }, x.grad:tolist()) -- accumulated
    end)

    it("reduces broadcast gradients to the input shape", function()
      local x = f64({ { 1, 2, 3 }, { 4, 5, 6 } })
      local b = f64({ 10, 20, 30 })
      local s = f64(2)
      ;((x + b) * s):sum():backward()
      assert.are.same({ 4, 4, 4 }, b.grad:tolist()) -- 2 rows times s = 2
      assert.are.equal(0, s.grad:dim())
      assert.are.equal(21 + 120, s.grad:item())
    end)

    it("takes an explicit gradient for non-scalars, and errors without one", function()
      local x = f64({ 1, 2 })
      local y = x * 3
      assert.has_error(function() y:backward() end,
        "backward: grad can be implicitly created only for scalar outputs, got shape (2,); pass a gradient")
      y:backward(luann.tensor({ 1, 10 }, "float64"))
      assert.are.same({ 3, 30 }, x.grad:tolist())
    end)

    it("frees the graph unless retain_graph", function()
      local x = f64({ 1, 2 })
      local y = (x * x):sum()
      y:backward({ retain_graph = true })
      y:backward()
      assert.are.same({ 4, 8 }, x.grad:tolist())
      local ok, err = pcall(y.backward, y)
      assert.is_false(ok)
      assert.matches("backward through the graph a second time", err)
    end)

    it("errors for tensors without history", function()
      assert.has_error(function() luann.ones(1):backward() end,
        "backward: the tensor does not require grad and has no grad_fn")
    end)

    it("retain_grad keeps a non-leaf's gradient", function()
      local x = f64({ 1, 2 })
      local y = x * 2
      y:retain_grad()
      y:sum():backward()
      assert.are.same({ 1, 1 }, y.grad:tolist())
      assert.is_false(y.is_leaf)
      assert.are.equal("MulBackward", y.grad_fn)
    end)

    it("flows through views", function()
      local x = f64({ { 1, 2, 3 }, { 4, 5, 6 } })
      assert.is_true(gradcheck(function(a) return a:t():narrow(1, 2, 2):select(2, 1) end, { x }))
      assert.is_true(gradcheck(function(a) return a:view(3, 2):unsqueeze(1):expand(2, 3, 2) end, { x }))
      assert.is_true(gradcheck(function(a) return a:permute(2, 1):reshape(6) end, { x }))
    end)
  end)

  describe("grad mode", function()
    it("no_grad as a to-be-closed guard", function()
      local x = f64({ 1 })
      do
        local g <close> = luann.no_grad()
        assert.is_false(luann.is_grad_enabled())
        assert.is_false((x * 2).requires_grad)
      end
      assert.is_true(luann.is_grad_enabled())
      assert.is_true((x * 2).requires_grad)
    end)

    it("no_grad as a function wrapper, restored after errors", function()
      local f = luann.no_grad(function(a) return a * 2 end)
      assert.is_false(f(f64({ 1 })).requires_grad)
      local bad = luann.no_grad(function() error("boom") end)
      assert.has_error(bad)
      assert.is_true(luann.is_grad_enabled())
    end)

    it("detach cuts history and shares storage", function()
      local x = f64({ 1, 2 })
      local d = (x * 2):detach()
      assert.is_false(d.requires_grad)
      assert.is_true(d.is_leaf)
    end)
  end)

  describe("in-place checks", function()
    it("refuses in-place changes to leaves that require grad", function()
      local x = f64({ 1 })
      assert.has_error(function() x:fill_(2) end,
        "a leaf tensor that requires grad is used in an in-place operation (wrap it in luann.no_grad, or use detach)")
      local g <close> = luann.no_grad()
      x:fill_(2)
      assert.are.same({ 2 }, x:tolist())
    end)

    it("detects a saved tensor modified in place", function()
      local x = f64({ 1, 2 })
      local y = x * 1
      local z = (y * y):sum() -- saves y
      y:fill_(5)
      local ok, err = pcall(z.backward, z)
      assert.is_false(ok)
      assert.matches("modified by an in%-place operation", err)
    end)

    it("keeps earlier consumers on the history they saw", function()
      local x = f64({ 1, 2 })
      local y = x * 1
      local z = y * 3 -- consumes y before the in-place op
      y:mul_(2)
      z:sum():backward({ retain_graph = true })
      assert.are.same({ 3, 3 }, x.grad:tolist())
      x.grad = nil
      y:sum():backward() -- y = 2 * x now
      assert.are.same({ 2, 2 }, x.grad:tolist())
    end)

    it("t:mul_(t) differentiates through t's old value", function()
      local x = f64({ 1, 3 })
      local y = x * 1
      y:mul_(y)
      y:sum():backward()
      assert.are.same({ 2, 6 }, x.grad:tolist())
    end)

    it("refuses in-place writes to views of tensors with history", function()
      local y = f64({ 1, 2 }) * 1
      assert.has_error(function() y:narrow(1, 1, 1):fill_(0) end,
        "an in-place operation on a view of a tensor with history is not supported (the base would not see it); use an out-of-place op, or clone() first")
    end)

    it("copy_ into a tensor records history", function()
      local x = f64({ 1, 2, 3 })
      local buf = luann.zeros(3, "float64")
      buf:copy_(x * 2)
      buf:sum():backward()
      assert.are.same({ 2, 2, 2 }, x.grad:tolist())
    end)
  end)

  describe("Function", function()
    local Cube = luann.autograd.Function {
      name = "CubeBackward",
      forward = function(ctx, x)
        ctx:save_for_backward(x)
        return x * x * x
      end,
      backward = function(ctx, g)
        local x = ctx.saved_tensors[1]
        return g * x * x * 3
      end,
    }

    it("runs a Lua forward and backward like a built-in op", function()
      local x = f64({ 1, 2 })
      local y = Cube(x)
      assert.are.equal("CubeBackward", y.grad_fn)
      y:sum():backward()
      assert.are.same({ 3, 12 }, x.grad:tolist())
      assert.is_true(gradcheck(function(a) return Cube(a) end, { f64({ 0.5, -1.5 }) }))
    end)

    it("turns errors in backward into Lua errors", function()
      local Bad = luann.autograd.Function {
        forward = function(ctx, x) return x * 1 end,
        backward = function() error("no way") end,
      }
      local y = Bad(f64({ 1 })):sum()
      local ok, err = pcall(y.backward, y)
      assert.is_false(ok)
      assert.matches("no way", err)
    end)

    it("takes any number of tensor inputs", function()
      -- f = a*b + c*d + e*f, so each input's gradient is its partner
      local Pairs = luann.autograd.Function {
        name = "PairsBackward",
        forward = function(ctx, a, b, c, d, e, f)
          ctx:save_for_backward(a, b, c, d, e, f)
          return a * b + c * d + e * f
        end,
        backward = function(ctx, g)
          local a, b, c, d, e, f = table.unpack(ctx.saved_tensors, 1, 6)
          return g * b, g * a, g * d, g * c, g * f, g * e
        end,
      }
      local xs = {}
      for i = 1, 6 do xs[i] = f64({ i, 10 * i }) end
      local y = Pairs(table.unpack(xs))
      assert.are.equal("PairsBackward", y.grad_fn)
      y:sum():backward()
      local want = { { 2, 20 }, { 1, 10 }, { 4, 40 }, { 3, 30 }, { 6, 60 }, { 5, 50 } }
      for i = 1, 6 do assert.are.same(want[i], xs[i].grad:tolist()) end
    end)
  end)

  describe("nodes with many inputs", function()
    it("backpropagates through cat of 6 tensors", function()
      -- pieces of lengths 1..6 joined, weighted by their position in the
      -- result: piece i gets the weights of its own window
      local xs, at, want = {}, 0, {}
      for i = 1, 6 do
        local v = {}
        want[i] = {}
        for k = 1, i do
          v[k] = k
          want[i][k] = at + k
        end
        at = at + i
        xs[i] = f64(v)
      end
      local y = luann.cat(xs, 1)
      assert.are.equal("CatBackward", y.grad_fn)
      local w = luann.arange(1, at + 1, { dtype = "float64" })
      local loss = (y * w):sum()
      loss:backward()
      for i = 1, 6 do assert.are.same(want[i], xs[i].grad:tolist()) end
    end)

    it("backpropagates through cat of 12 tensors", function()
      -- more inputs than the engine keeps gradient slots for on the stack
      local xs = {}
      for i = 1, 12 do xs[i] = f64({ i }) end
      local y = luann.cat(xs, 1)
      local loss = (y * y):sum() -- d/dx = 2x
      loss:backward()
      for i = 1, 12 do assert.are.same({ 2 * i }, xs[i].grad:tolist()) end
    end)

    it("backpropagates through stack of 6 tensors, skipping a constant", function()
      local xs = {}
      for i = 1, 6 do
        xs[i] = i == 3 and luann.tensor({ 0, 0 }, { dtype = "float64" }) or f64({ i, i })
      end
      local y = luann.stack(xs, 1) -- (6, 2)
      local loss = (y * y):sum() -- d/dx = 2x
      loss:backward()
      for i = 1, 6 do
        if i == 3 then assert.is_nil(xs[i].grad)
        else assert.are.same({ 2 * i, 2 * i }, xs[i].grad:tolist()) end
      end
    end)
  end)

  describe("gradcheck", function()
    it("catches a wrong backward", function()
      local Wrong = luann.autograd.Function {
        forward = function(ctx, x) return x * x end,
        backward = function(ctx, g) return g end, -- should be 2x * g
      }
      local ok, err = pcall(gradcheck, function(a) return Wrong(a) end, { f64({ 1, 2 }) })
      assert.is_false(ok)
      assert.matches("gradcheck: input 1, element 1", err)
    end)

    it("wants float64 inputs", function()
      local x = luann.ones(2, { requires_grad = true })
      assert.has_error(function() gradcheck(function(a) return a end, { x }) end,
        "gradcheck: input 1 is float32; use float64 for precision")
    end)

    -- Runs fn, failing if it takes more than limit Lua instructions: a loop
    -- over an astronomical dim fails fast instead of hanging the suite.
    local function within_instructions(limit, fn)
      local hook, mask, count = debug.gethook()
      debug.sethook(function() error("ran past " .. limit .. " Lua instructions", 2) end, "", limit)
      local ok, err = pcall(fn)
      debug.sethook(hook, mask, count)
      if not ok then error(err, 0) end
    end

    it("returns at once on an empty input with astronomical dims", function()
      -- issue 7: gradcheck(fn, zeros(2^40, 0)) walked 2^40 rows
      local x = luann.zeros(1 << 40, 0, { dtype = "float64" })
      local double = function(a) return a * 2 end
      within_instructions(1000000, function()
        assert.has_error(function() gradcheck(double, x) end,
          "gradcheck: no input requires grad (call requires_grad_() on those to check)")
        x:requires_grad_()
        assert.is_true(gradcheck(double, x))
        assert.is_true(gradcheck(double, { x }))
      end)
    end)

    it("reads its inputs raw, so a hostile proxy cannot drive its loops", function()
      local x = f64({ 1, 2 })
      local proxy = setmetatable({}, { __len = function() return 1 << 62 end,
                                       __index = function() return x end })
      within_instructions(1000000, function()
        assert.has_error(function() gradcheck(function(a) return a end, proxy) end,
          "gradcheck: no input requires grad (call requires_grad_() on those to check)")
      end)
      assert.has_error(function() gradcheck(x, { x }) end,
        "gradcheck: fn must be a function, got userdata")
      assert.has_error(function() gradcheck(function() return 1 end, { x }) end,
        "gradcheck: fn must return a tensor, got number")
    end)
  end)
end)
