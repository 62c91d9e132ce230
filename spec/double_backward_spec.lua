-- luann.autograd.grad, create_graph (double backward), and gradient hooks
-- on tensors. Second derivatives are checked against finite differences
-- of the first (gradgradcheck), and by hand where they are short.
local luann = require "luann"
local cmp = require "opencl_compare"
local autograd = luann.autograd
local F = luann.nn.functional

local function f64(t) return luann.tensor(t, { dtype = "float64", requires_grad = true }) end
local function randn(...) return luann.randn({ ... }, { dtype = "float64", requires_grad = true }) end

local function close(expected, actual, tol)
  tol = tol or 1e-12
  assert.are.equal(#expected, #actual)
  for i = 1, #expected do
    assert.is_true(math.abs(expected[i] - actual[i]) <= tol,
      ("element %d: expected %.15g, got %.15g"):format(i, expected[i], actual[i]))
  end
end

describe("autograd.grad", function()
  it("returns d outputs / d inputs without touching .grad", function()
    local x, y = f64({ 1, 2, 3 }), f64({ 4, 5, 6 })
    local z = (x * y + x * x):sum() -- dz/dx = y + 2x, dz/dy = x
    local g = autograd.grad(z, { x, y })
    assert.are.equal(2, g.n)
    assert.are.same({ 6, 9, 12 }, g[1]:tolist())
    assert.are.same({ 1, 2, 3 }, g[2]:tolist())
    assert.is_nil(x.grad)
    assert.is_nil(y.grad)
    assert.is_false(g[1].requires_grad) -- no create_graph: no history
  end)

  it("weights several outputs by grad_outputs", function()
    local x = f64({ 1, 2 })
    local a, b = x * 3, x * x
    local g = autograd.grad({ a, b }, x, { grad_outputs = { f64({ 1, 10 }), f64({ 2, 1 }) } })[1]
    assert.are.same({ 1 * 3 + 2 * 2, 10 * 3 + 1 * 4 }, g:tolist())
  end)

  it("differentiates with respect to a non-leaf and a root leaf", function()
    local x = f64({ 1, 2 })
    local h = x * x
    local y = (h * 3):sum()
    assert.are.same({ 3, 3 }, autograd.grad(y, h, { retain_graph = true })[1]:tolist())
    assert.are.same({ 6, 12 }, autograd.grad(y, x)[1]:tolist())
    assert.are.same({ 1, 1 }, autograd.grad(x, x, { grad_outputs = f64({ 1, 1 }) })[1]:tolist())
  end)

  it("frees the graph unless retain_graph, as backward does", function()
    local x = f64({ 1, 2 })
    local y = (x:exp()):sum()
    autograd.grad(y, x)
    assert.has_error(function() autograd.grad(y, x) end)
    local y2 = (x:exp()):sum()
    autograd.grad(y2, x, { retain_graph = true })
    close({ math.exp(1), math.exp(2) }, autograd.grad(y2, x)[1]:tolist())
  end)

  it("refuses an unused input unless allow_unused", function()
    local x, unused = f64({ 1 }), f64({ 2 })
    local y = (x * 2):sum()
    assert.has_error(function() autograd.grad(y, { x, unused }, { retain_graph = true }) end,
      "grad: input 2 was not used in the graph of the outputs; pass allow_unused = true for a nil gradient")
    local g = autograd.grad(y, { x, unused }, { allow_unused = true })
    assert.are.same({ 2 }, g[1]:tolist())
    assert.is_nil(g[2])
  end)

  it("names bad arguments", function()
    local x = f64({ 1 })
    local y = (x * 2):sum()
    assert.has_error(function() autograd.grad(y, luann.zeros(1)) end,
      "grad: input 1 does not require grad")
    assert.has_error(function() autograd.grad(luann.zeros(1), x) end,
      "grad: output 1 does not require grad and has no grad_fn")
    assert.has_error(function() autograd.grad(y, x, { creat_graph = true }) end,
      "grad: unknown option 'creat_graph' (it takes grad_outputs, retain_graph, create_graph, allow_unused)")
    assert.has_error(function() autograd.grad(y, { x, 3 }) end,
      "grad: inputs[2] is a number, expected a tensor")
    assert.has_error(function() autograd.grad(y, x, { grad_outputs = { x, x } }) end,
      "grad: 2 grad_outputs for 1 outputs")
    local x2 = f64({ 1, 2 })
    assert.has_error(function() autograd.grad(x2 * 1, x2) end,
      "grad: grad can be implicitly created only for scalar outputs, got shape (2,); pass a gradient")
  end)
end)

describe("create_graph", function()
  it("gives gradients with history: d2/dx2 x^3 = 6x", function()
    local x = f64({ 1, 2, 3 })
    local g = autograd.grad((x * x * x):sum(), x, { create_graph = true })[1]
    assert.are.same({ 3, 12, 27 }, g:tolist())
    assert.is_true(g.requires_grad)
    assert.are.same({ 6, 12, 18 }, autograd.grad(g:sum(), x)[1]:tolist())
  end)

  it("works through backward{create_graph = true} into .grad", function()
    local x = f64({ 0.5, -1 })
    ;(x:tanh() * x):sum():backward({ create_graph = true })
    local gx = x.grad
    assert.is_true(gx.requires_grad)
    x.grad = nil -- .grad holding its own graph would keep x alive
    gx:sum():backward()
    -- d2/dx2 x tanh x = 2 sech^2 x (1 - x tanh x)
    local expected = {}
    for i, v in ipairs({ 0.5, -1 }) do
      local s2 = 1 - math.tanh(v) ^ 2
      expected[i] = 2 * s2 * (1 - v * math.tanh(v))
    end
    close(expected, x.grad:tolist())
  end)

  it("differentiates through a dtype cast", function()
    local x = f64({ 1.5, -2 })
    local y = (x:float() * x:float()):sum()
    local g = autograd.grad(y, x, { create_graph = true })[1]
    assert.are.equal("float64", g.dtype)
    assert.are.same({ 3, -4 }, g:tolist())
    assert.are.same({ 2, 2 }, autograd.grad(g:sum(), x)[1]:tolist())
  end)

  it("refuses unknown backward options", function()
    local x = f64({ 1 })
    assert.has_error(function() (x * 2):sum():backward({ create_grpah = true }) end,
      "backward: unknown option 'create_grpah' (it takes retain_graph, create_graph)")
  end)

  it("refuses ops without double backward instead of dropping history", function()
    local x = randn(2, 3)
    assert.has_error(function() x:softmax(2):sum():backward({ create_graph = true }) end,
      "SoftmaxBackward: double backward is not supported (create_graph)")
    assert.has_error(function() autograd.grad(x:cumsum(1):sum(), x, { create_graph = true }) end,
      "CumsumBackward: double backward is not supported (create_graph)")
    local y = x[{ {}, { 1, 3, 2 } }] -- a slice with a step
    assert.has_error(function() autograd.grad(y:sum(), x, { create_graph = true }) end)
    local h = x * 1
    h:mul_(x) -- in place: its backward saved a raw copy of h
    assert.has_error(function() autograd.grad(h:sum(), x, { create_graph = true }) end,
      "MulBackward: double backward is not supported through an in-place op (create_graph); use the out-of-place form")
    -- without create_graph the same graphs are fine
    assert.are.equal(6, autograd.grad(x:cumsum(1):sum(), x)[1]:numel())
  end)

  describe("double backward gradcheck", function()
    local cases = {
      { "add sub mul div neg", function(a, b) return -(a + b) * (a - b) / (b * b + 1) end, { randn(2, 3), randn(3) } },
      { "pow and scalar pow", function(a, b) return (a:abs() + 0.5):pow(b) + a:pow(3) end, { randn(4), randn(4) } },
      { "sqrt, sum, mean", function(a) return (a * a + 1):sqrt():sum(2) + a:mean(1):sum() end, { randn(2, 3) } },
      { "tanh sigmoid", function(a) return a:tanh() * a:sigmoid() end, { randn(5) } },
      { "relu leaky_relu", function(a) return F.relu(a) * a + F.leaky_relu(a, 0.2) * a end, { randn(6) } },
      { "matmul", function(a, b) return (a:matmul(b)):tanh() end, { randn(2, 3), randn(3, 4) } },
      { "matmul vector", function(a, b) return (a:matmul(b)):exp() end, { randn(3), randn(3, 2) } },
      { "mm", function(a, b) return a:mm(b):sigmoid() end, { randn(2, 3), randn(3, 2) } },
      { "bmm", function(a, b) return a:bmm(b):pow(2) end, { randn(2, 2, 3), randn(2, 3, 2) } },
      { "linear", function(x, w, b) return F.linear(x, w, b):tanh() end, { randn(3, 4), randn(2, 4), randn(2) } },
      { "linear 1-D input", function(x, w) return F.linear(x, w):pow(2) end, { randn(4), randn(3, 4) } },
      { "conv2d padding", function(x, w, b) return F.conv2d(x, w, b, { padding = 1 }):sigmoid() end,
        { randn(1, 2, 4, 4), randn(3, 2, 3, 3), randn(3) } },
      { "conv2d stride dilation groups", function(x, w)
          return F.conv2d(x, w, nil, { stride = 2, dilation = 2, groups = 2 }):pow(2)
        end, { randn(1, 2, 6, 6), randn(2, 1, 2, 2) } },
      { "layer_norm", function(x, w, b) return F.layer_norm(x, { 4 }, w, b) end, { randn(3, 4), randn(4), randn(4) } },
      { "select and slice", function(a) return a[2]:pow(2) + a[{ {}, { 2, 3 } }]:sum(2):pow(3) end, { randn(3, 3) } },
      { "cat expand", function(a, b) return luann.cat({ a, b:expand(2, 3) }, 1):tanh() end, { randn(2, 3), randn(1, 3) } },
      { "stack permute view", function(a, b) return luann.stack({ a, b }, 1):permute(3, 1, 2):reshape(-1):pow(2) end,
        { randn(2, 3), randn(2, 3) } },
      { "abs clamp", function(a) return a:abs() * a + a:clamp(-0.5, 0.5) * a end, { randn(6) } },
      { "sin cos square", function(a) return a:sin() * a:cos() + a:square() * a end, { randn(5) } },
      { "exp log reciprocal", function(a) return a:exp() * (a * a + 1):log() + (a * a + 1):reciprocal() end, { randn(5) } },
      { "where", function(a, b) return luann.where(a:gt(0), a * b, b * b) end, { randn(6), randn(6) } },
      { "clone", function(a) return a:clone() * a end, { randn(4) } },
      { "unfold", function(a) return a:unfold(1, 3, 2):pow(2) end, { randn(7) } },
      { "addmm dot outer", function(c, a, b, v)
          return luann.addmm(c, a, b, { beta = 0.5, alpha = 2 }):tanh():sum() * v:dot(v) + luann.outer(v, v):sum()
        end, { randn(2, 2), randn(2, 3), randn(3, 2), randn(3) } },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        assert.is_true(autograd.gradgradcheck(c[2], c[3]))
      end)
    end

    it("fails on a wrong second derivative (the check can fail)", function()
      local wrong = autograd.Function({
        forward = function(ctx, x) ctx:save_for_backward(x); return x * x end,
        backward = function(ctx, g) return g * 2 * ctx.saved_tensors[1] end,
      })
      assert.has_error(function() autograd.gradgradcheck(function(x) return wrong(x) end, { randn(3) }) end)
    end)
  end)

  it("trains a gradient penalty (WGAN-GP) whose gradient matches finite differences", function()
    luann.manual_seed(7)
    local w1, w2 = randn(4, 3), randn(1, 4)
    local real, fake = luann.randn(5, 3, { dtype = "float64" }), luann.randn(5, 3, { dtype = "float64" })
    local eps = luann.rand(5, 1, { dtype = "float64" })
    local function penalty(a, b)
      local grad_mode <close> = autograd.enable_grad() -- gradcheck probes under no_grad
      local xhat = (eps * real + (1 - eps) * fake):requires_grad_()
      local critic = F.linear(F.leaky_relu(F.linear(xhat, a), 0.2), b)
      local g = autograd.grad(critic:sum(), xhat, { create_graph = true })[1]
      local norm = (g * g):sum(2):sqrt()
      return ((norm - 1) * (norm - 1)):mean()
    end
    assert.is_true(autograd.gradcheck(penalty, { w1, w2 }))
    penalty(w1, w2):backward()
    assert.is_true(w1.grad:abs():sum():item() > 0)
  end)

  if cmp.HAVE then
    it("gives OpenCL the CPU's first and second derivatives", function()
      local function first(x, w)
        local y = F.linear(x, w):tanh():sum()
        return autograd.grad(y, { x, w }, { create_graph = true })
      end
      cmp.both(function(x, w)
        local g = first(x, w)
        return { g[1], g[2] }
      end, { luann.randn(3, 4), luann.randn(2, 4) }, { grad = true, what = "linear" })
      cmp.both(function(x, w)
        local y = F.conv2d(x, w, nil, { padding = 1 }):sigmoid():sum()
        return autograd.grad(y, x, { create_graph = true })[1]
      end, { luann.randn(1, 1, 4, 4), luann.randn(2, 1, 3, 3) }, { grad = true, what = "conv2d" })
    end)
  end
end)

describe("register_hook", function()
  it("gives a leaf's hooks its whole gradient once, and uses what they return", function()
    local x = luann.tensor({ 1, 2 }, { dtype = "float32", requires_grad = true })
    local seen = {}
    x:register_hook(function(g) seen[#seen + 1] = g:tolist(); return g * 10 end)
    ;(x * 3 + x * x):sum():backward() -- 3 + 2x, from two uses of x
    assert.are.same({ { 5, 7 } }, seen)
    assert.are.same({ 50, 70 }, x.grad:tolist())
  end)

  it("runs hooks in order on a non-leaf, before the gradient flows on", function()
    local x = f64({ 1, 2 })
    local h = x * 2
    local order = {}
    h:register_hook(function(g) order[#order + 1] = "first"; return g + 1 end)
    h:register_hook(function(g) order[#order + 1] = g:tolist() end)
    h:sum():backward()
    assert.are.same({ "first", { 2, 2 } }, order)
    assert.are.same({ 4, 4 }, x.grad:tolist()) -- (1 + 1) * 2
  end)

  it("is taken off by remove()", function()
    local x = f64({ 1 })
    local calls = 0
    local handle = x:register_hook(function() calls = calls + 1 end)
    ;(x * 2):sum():backward()
    handle.remove()
    ;(x * 2):sum():backward()
    assert.are.equal(1, calls)
    assert.are.same({ 4 }, x.grad:tolist())
  end)

  it("sees autograd.grad's gradients too", function()
    local x = f64({ 3 })
    x:register_hook(function(g) return g * 0.5 end)
    assert.are.same({ 3 }, autograd.grad((x * x):sum(), x)[1]:tolist())
  end)

  it("raises a hook's error and a wrong return as Lua errors", function()
    local x = f64({ 1, 2 })
    x:register_hook(function() error("boom") end)
    assert.has_error(function() (x * 2):sum():backward() end)
    local ok, err = pcall(function() (x * 2):sum():backward() end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("hook: .*boom"))
    local y = f64({ 1, 2 })
    y:register_hook(function() return f64({ 1 }) end)
    assert.has_error(function() (y * 2):sum():backward() end,
      "hook: returned a gradient of shape (1,) for a tensor of shape (2,)")
    local z = f64({ 1 })
    z:register_hook(function() return "no" end)
    assert.has_error(function() (z * 2):sum():backward() end,
      "hook: returned a string, expected a tensor or nil")
    assert.has_error(function() luann.zeros(2):register_hook(function() end) end,
      "register_hook: cannot register a hook on a tensor that does not require grad")
  end)
end)

describe("register_hook against hostile hooks", function()
  it("survives a hook that removes itself and the next one", function()
    local x = f64({ 1 })
    local h1, h2
    local calls = {}
    h1 = x:register_hook(function() calls[#calls + 1] = 1; h1.remove(); h2.remove() end)
    h2 = x:register_hook(function() calls[#calls + 1] = 2 end)
    x:register_hook(function(g) calls[#calls + 1] = 3; return g * 2 end)
    ;(x * 2):sum():backward()
    ;(x * 2):sum():backward()
    assert.are.same({ 1, 3, 3 }, calls)
    assert.are.same({ 8 }, x.grad:tolist())
  end)

  it("survives a hook that closes the tensor it is on", function()
    local x = f64({ 1, 2 })
    local h = x * 3
    local victim = h
    h:register_hook(function(g) getmetatable(victim).__close(victim); return g end)
    local y = h:sum()
    h = nil
    collectgarbage()
    y:backward()
    assert.are.same({ 3, 3 }, x.grad:tolist())
  end)
end)
