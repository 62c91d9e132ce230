-- luann.nn: the Module base class, layers, losses, functional, init and
-- gradient clipping. Values are checked against hand computations or
-- naive float64 loops written here.
local luann = require "luann"
local nn = require "luann.nn"
local F = nn.functional
local gradcheck = luann.autograd.gradcheck

local function f64(t, rg) return luann.tensor(t, { dtype = "float64", requires_grad = rg }) end

local function close(expected, actual, tol)
  tol = tol or 1e-6
  if type(expected) == "table" then
    assert.are.equal(#expected, #actual)
    for i = 1, #expected do close(expected[i], actual[i], tol) end
    return
  end
  assert(math.abs(expected - actual) <= tol * (1 + math.abs(expected)),
    string.format("expected %.10g, got %.10g", expected, actual))
end

-- A two-layer model used throughout.
local SimpleNN = nn.Module:extend("SimpleNN")
function SimpleNN:__init()
  self.fc1 = nn.Linear(28 * 28, 128)
  self.fc2 = nn.Linear(128, 10)
end
function SimpleNN:forward(x)
  x = x:view(-1, 28 * 28)
  return self.fc2(luann.relu(self.fc1(x)))
end

local function names(iter)
  local out = {}
  for name in iter do out[#out + 1] = name end
  return out
end

describe("luann.nn", function()
  describe("Module", function()
    it("registers parameters and children in assignment order", function()
      local m = SimpleNN()
      assert.are.same({ "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" }, names(m:named_parameters()))
      assert.are.equal(4, #m:parameters())
      assert.are.same({ "fc1", "fc2" }, names(m:named_children()))
      assert.are.same({ "", "fc1", "fc2" }, names(m:named_modules()))
      assert.are.equal(3, #m:modules())
      assert.are.same({ 128, 784 }, m.fc1.weight.shape)
      assert.is_true(m.fc1.weight.requires_grad)
      assert.is_true(nn.is_parameter(m.fc2.bias))
      assert.are.same({ "weight", "bias" }, names(m.fc1:named_parameters()))
      assert.are.same({ "x.weight", "x.bias" }, names(m.fc1:named_parameters("x")))
      assert.are.equal(0, #m:parameters(false))
    end)

    it("registers buffers, and keeps plain values as fields", function()
      local M = nn.Module:extend("M")
      function M:__init()
        self.scale = nn.Parameter(luann.ones(3))
        self:register_buffer("running", luann.zeros(3))
        self:register_buffer("scratch", luann.zeros(1), false)
        self.label = "hello"
      end
      local m = M()
      assert.are.same({ "running", "scratch" }, names(m:named_buffers()))
      assert.are.equal(1, #m:parameters())
      assert.are.equal("hello", m.label)
      local sd = m:state_dict()
      assert.is_not_nil(sd.running)
      assert.is_nil(sd.scratch)
      m.running = luann.ones(3)
      assert.are.same({ 1, 1, 1 }, m.running:tolist())
      assert.has_error(function() m.running = 5 end,
        "cannot assign number as buffer 'running' (tensor or nil expected)")
    end)

    it("refuses a plain tensor for a parameter and removes entries set to nil", function()
      local m = SimpleNN()
      assert.has_error(function() m.fc1.weight = luann.zeros(128, 784) end,
        "cannot assign tensor as parameter 'weight' (nn.Parameter or nil expected)")
      m.fc1.bias = nil
      assert.are.same({ "fc1.weight", "fc2.weight", "fc2.bias" }, names(m:named_parameters()))
      m.fc2 = nil
      assert.are.same({ "fc1" }, names(m:named_children()))
      assert.has_error(function() m:add_module("a.b", nn.ReLU()) end,
        "add_module: name can't be empty or contain \".\" (got \"a.b\")")
    end)

    it("lists a parameter shared by two modules once", function()
      local a, b = nn.Linear(2, 2), nn.Linear(2, 2)
      b.weight = a.weight
      local seq = nn.Sequential(a, b)
      assert.are.same({ "1.weight", "1.bias", "2.bias" }, names(seq:named_parameters()))
      local keys = {}
      for k in pairs(seq:state_dict()) do keys[#keys + 1] = k end
      table.sort(keys)
      assert.are.same({ "1.bias", "1.weight", "2.bias", "2.weight" }, keys)
    end)

    it("switches train and eval mode on the whole tree", function()
      local m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
      assert.is_true(m[2].training)
      assert.are.equal(m, m:eval())
      assert.is_false(m.training)
      assert.is_false(m[2].training)
      m:train()
      assert.is_true(m[1].training)
    end)

    it("clears gradients to nil, or to zeros", function()
      local m = nn.Linear(3, 2)
      m(luann.ones(1, 3)):sum():backward()
      assert.is_not_nil(m.weight.grad)
      m:zero_grad(false)
      assert.are.same({ { 0, 0, 0 }, { 0, 0, 0 } }, m.weight.grad:tolist())
      m:zero_grad()
      assert.is_nil(m.weight.grad)
      assert.is_nil(m.bias.grad)
    end)

    it("applies a function to children first, then itself", function()
      local m = SimpleNN()
      local seen = {}
      m:apply(function(x) seen[#seen + 1] = getmetatable(x).__name end)
      assert.are.same({ "Linear", "Linear", "SimpleNN" }, seen)
    end)

    it("calls forward when called, and says when forward is missing", function()
      local m = SimpleNN()
      local y = m(luann.rand(5, 1, 28, 28))
      assert.are.same({ 5, 10 }, y.shape)
      local Empty = nn.Module:extend("Empty")
      local ok, err = pcall(function() return Empty()(1) end)
      assert.is_false(ok)
      assert.matches("Empty: forward is not implemented", err)
    end)

    it("prints the tree like PyTorch", function()
      assert.are.equal([[
SimpleNN(
  (fc1): Linear(in_features=784, out_features=128, bias=true)
  (fc2): Linear(in_features=128, out_features=10, bias=true)
)]], tostring(SimpleNN()))
      local seq = nn.Sequential(nn.Linear(4, 2, false), nn.Sequential(nn.ReLU(), nn.Dropout(0.25)))
      assert.are.equal([[
Sequential(
  (1): Linear(in_features=4, out_features=2, bias=false)
  (2): Sequential(
    (1): ReLU()
    (2): Dropout(p=0.25)
  )
)]], tostring(seq))
    end)

    it("supports subclasses of layers through super", function()
      local Scaled = nn.Linear:extend("Scaled")
      function Scaled:__init(i, o, s)
        Scaled.super.__init(self, i, o)
        self.s = s
      end
      function Scaled:forward(x) return Scaled.super.forward(self, x) * self.s end
      local m = Scaled(3, 2, 10)
      assert.are.same({ "weight", "bias" }, names(m:named_parameters()))
      local x = luann.rand(4, 3)
      assert.is_true(luann.allclose(m(x), luann.linear(x, m.weight, m.bias) * 10))
      assert.is_true(luann.utils.class.isinstance(m, nn.Linear))
      assert.is_true(luann.utils.class.isinstance(m, nn.Module))
      assert.is_false(luann.utils.class.isinstance(m, nn.ReLU))
      assert.are.equal("Scaled(in_features=3, out_features=2, bias=true)", tostring(m))
    end)
  end)

  describe("forward hooks", function()
    -- A module whose forward records its arguments and returns two values.
    local Pair = nn.Module:extend("Pair")
    function Pair:forward(a, b) self.got = { a, b } return a + (b or 0), "second" end

    it("run in registration order around forward, each call", function()
      local m, log = Pair(), {}
      m:register_forward_pre_hook(function(mod, inputs)
        assert.are.equal(m, mod)
        log[#log + 1] = "pre1:" .. inputs.n
      end)
      m:register_forward_hook(function(_, inputs, out, second)
        log[#log + 1] = "post1:" .. inputs[1] .. ":" .. out .. ":" .. second
      end)
      m:register_forward_pre_hook(function() log[#log + 1] = "pre2" end)
      m:register_forward_hook(function() log[#log + 1] = "post2" end)
      local a, b = m(1, 2)
      assert.are.same({ 3, "second" }, { a, b })
      assert.are.same({ "pre1:2", "pre2", "post1:1:3:second", "post2" }, log)
      m(5)
      assert.are.same({ "pre1:1", "pre2", "post1:5:5:second", "post2" }, table.move(log, 5, 8, 1, {}))
    end)

    it("replace the inputs: a table is the list of inputs, another value the one input", function()
      local m = Pair()
      local h1 = m:register_forward_pre_hook(function(_, inputs) return { inputs[1] * 10, inputs[2] } end)
      assert.are.equal(12, m(1, 2))
      assert.are.same({ 10, 2 }, m.got)
      local h2 = m:register_forward_pre_hook(function(_, inputs) return inputs[1] + 1 end)
      assert.are.equal(11, m(1, 2)) -- 10, then 11 alone: b is gone
      assert.are.same({ 11 }, m.got)
      h1:remove(); h2:remove()
      -- the forward hooks see the inputs after the pre-hooks
      m:register_forward_pre_hook(function() return { 7, n = 2 } end)
      local seen
      m:register_forward_hook(function(_, inputs) seen = inputs end)
      assert.are.equal(7, m(1, 2))
      assert.are.same({ 7, n = 2 }, seen)
    end)

    it("replace the outputs with what they return, in turn", function()
      local lin = nn.Linear(3, 2)
      local x = luann.rand(4, 3)
      lin:register_forward_hook(function(_, _, out) return out * 2 end)
      lin:register_forward_hook(function(_, inputs, out) return out + inputs[1]:sum() end)
      assert.is_true(luann.allclose(lin(x), luann.linear(x, lin.weight, lin.bias) * 2 + x:sum()))
      -- gradients flow through the replacement
      lin(x):sum():backward()
      assert.is_true(luann.allclose(lin.bias.grad, luann.full({ 2 }, 8)))
      local m = Pair()
      m:register_forward_hook(function(_, _, a) return a, "replaced", "third" end)
      assert.are.same({ 3, "replaced", "third" }, { m(1, 2) })
    end)

    it("run for children called by their parent, and are removed by their handle", function()
      local model, shapes = SimpleNN(), {}
      local h = model.fc1:register_forward_hook(function(_, _, out) shapes[#shapes + 1] = out.shape end)
      model(luann.rand(2, 784))
      assert.are.same({ { 2, 128 } }, shapes)
      h:remove()
      h:remove() -- twice is fine
      model(luann.rand(2, 784))
      assert.are.equal(1, #shapes)
      assert.is_nil(rawget(model.fc1, "_forward_hooks"))
      do
        local scoped <close> = model.fc2:register_forward_pre_hook(function() shapes[#shapes + 1] = "pre" end)
        model(luann.rand(1, 784))
      end
      model(luann.rand(1, 784))
      assert.are.same({ { 2, 128 }, "pre" }, shapes)
    end)

    it("may remove themselves while running; the others still run that call", function()
      local m, log, h = Pair(), {}, nil
      h = m:register_forward_hook(function() log[#log + 1] = "once"; h:remove() end)
      m:register_forward_hook(function() log[#log + 1] = "always" end)
      m(1); m(1)
      assert.are.same({ "once", "always", "always" }, log)
    end)

    it("stay out of state_dict and survive to() and double()", function()
      local m, calls = SimpleNN(), 0
      m:register_forward_hook(function() calls = calls + 1 end)
      m.fc1:register_forward_pre_hook(function(_, inputs) return inputs[1] * 0 end)
      local keys = {}
      for name in pairs(m:state_dict()) do keys[#keys + 1] = name end
      table.sort(keys)
      assert.are.same({ "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight" }, keys)
      m:double()
      local y = m(luann.rand(1, 784, { dtype = "float64" }))
      assert.are.equal(1, calls)
      assert.are.equal("float64", y.dtype)
      -- fc1 saw zeros: the output is fc2(relu(fc1.bias))
      local expected = m.fc2(luann.relu(m.fc1.bias:view(1, 128)))
      assert.is_true(luann.allclose(y, expected))
      assert.are.equal(tostring(SimpleNN()), tostring(m))
    end)

    it("say when called with '.' or given something else than a function", function()
      local m = nn.Linear(2, 2)
      assert.has_error(function() m.register_forward_hook(print) end,
        "Module.register_forward_hook: called with '.' instead of ':' (use m:register_forward_hook())")
      assert.has_error(function() m.register_forward_pre_hook(print) end,
        "Module.register_forward_pre_hook: called with '.' instead of ':' " ..
        "(use m:register_forward_pre_hook())")
      assert.has_error(function() m:register_forward_hook("f") end,
        "register_forward_hook: bad argument #1 (function expected, got string)")
      assert.has_error(function() m:register_forward_pre_hook() end,
        "register_forward_pre_hook: bad argument #1 (function expected, got nil)")
      local h = m:register_forward_hook(function() end)
      assert.has_error(function() h.remove() end,
        "RemovableHandle.remove: called with '.' instead of ':' (use handle:remove())")
    end)
  end)

  describe("state_dict", function()
    it("round-trips into a fresh model", function()
      local a, b = SimpleNN(), SimpleNN()
      local sd = a:state_dict()
      assert.is_false(sd["fc1.weight"].requires_grad)
      local r = b:load_state_dict(sd)
      assert.are.same({ missing_keys = {}, unexpected_keys = {} }, r)
      for name, p in b:named_parameters() do
        assert.are.same(sd[name]:tolist(), p:tolist())
        assert.is_true(p.requires_grad)
      end
      local x = luann.rand(2, 784)
      assert.are.same(a(x):tolist(), b(x):tolist())
    end)

    it("round-trips through luann.save and luann.load", function()
      local a, b = SimpleNN(), SimpleNN()
      local path = os.tmpname()
      luann.save(path, a:state_dict())
      b:load_state_dict(luann.load(path))
      os.remove(path)
      assert.are.same(a.fc2.weight:tolist(), b.fc2.weight:tolist())
    end)

    it("names missing and unexpected keys, and copies nothing then", function()
      local m = SimpleNN()
      local before = m.fc1.bias:tolist()
      local sd = SimpleNN():state_dict()
      sd["fc1.weight"], sd["fc1.bias"] = nil, nil
      sd["fc3.weight"] = luann.zeros(1)
      assert.has_error(function() m:load_state_dict(sd) end,
        "Error(s) in loading state_dict for SimpleNN:\n" ..
        "\tMissing key(s) in state_dict: \"fc1.weight\", \"fc1.bias\".\n" ..
        "\tUnexpected key(s) in state_dict: \"fc3.weight\".")
      assert.are.same(before, m.fc1.bias:tolist())
      local r = m:load_state_dict(sd, false)
      assert.are.same({ "fc1.weight", "fc1.bias" }, r.missing_keys)
      assert.are.same({ "fc3.weight" }, r.unexpected_keys)
      assert.are.same(sd["fc2.bias"]:tolist(), m.fc2.bias:tolist())
    end)

    it("names shape mismatches, even when not strict", function()
      local m = SimpleNN()
      local sd = m:state_dict()
      sd["fc2.weight"] = luann.zeros(10, 64)
      local msg = "Error(s) in loading state_dict for SimpleNN:\n" ..
        "\tsize mismatch for fc2.weight: copying a param with shape (10,64) from checkpoint, " ..
        "the shape in current model is (10,128)."
      assert.has_error(function() m:load_state_dict(sd) end, msg)
      assert.has_error(function() m:load_state_dict(sd, false) end, msg)
    end)
  end)

  describe("to", function()
    it("converts parameters and buffers to another dtype", function()
      local m = nn.Linear(3, 2)
      m:register_buffer("stat", luann.zeros(2))
      local w = m.weight:tolist()
      assert.are.equal(m, m:double())
      assert.are.equal("float64", m.weight.dtype)
      assert.are.equal("float64", m.stat.dtype)
      assert.is_true(m.weight.requires_grad)
      assert.is_true(nn.is_parameter(m.weight))
      close(w[1], m.weight:tolist()[1], 1e-7)
      assert.are.equal("float64", m(luann.ones(1, 3, { dtype = "float64" })).dtype)
      local same = m.weight
      m:to("cpu")
      assert.is_true(rawequal(same, m.weight))
    end)
  end)

  describe("to opencl #opencl", function()
    it("moves a model and trains it there like on the CPU", function()
      luann.manual_seed(2)
      local function make() return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)) end
      local cpu, dev = make(), make()
      dev:load_state_dict(cpu:state_dict())
      dev:to("opencl")
      assert.are.equal("opencl:0", tostring(dev[1].weight.device))
      assert.is_true(nn.is_parameter(dev[3].bias))
      local x = luann.rand(5, 4)
      local y = luann.tensor({ 1, 2, 1, 2, 1 }, { dtype = "int64" })
      local oc = luann.optim.SGD(cpu:parameters(), { lr = 0.1, momentum = 0.9 })
      local od = luann.optim.SGD(dev:parameters(), { lr = 0.1, momentum = 0.9 })
      for _ = 1, 3 do
        for _, run in ipairs({ { cpu, oc, x, y }, { dev, od, x:to("opencl"), y:to("opencl") } }) do
          run[2]:zero_grad()
          nn.CrossEntropyLoss()(run[1](run[3]), run[4]):backward()
          run[2]:step()
        end
      end
      for name, p in dev:named_parameters() do
        assert.is_true(luann.allclose(p:to("cpu"), cpu:state_dict()[name], 1e-4, 1e-5), name)
      end
    end)
  end)

  describe("Linear", function()
    it("computes x W^T + b", function()
      local m = nn.Linear(3, 2, { dtype = "float64" })
      nn.init.constant_(m.weight, 0)
      m.weight:detach():copy_(f64({ { 1, 2, 3 }, { -1, 0, 2 } }))
      m.bias:detach():copy_(f64({ 0.5, -0.5 }))
      local x = f64({ { 1, 1, 1 }, { 2, 0, -1 } })
      assert.are.same({ { 6.5, 0.5 }, { -0.5, -4.5 } }, m(x):tolist())
      local nb = nn.Linear(3, 2, false)
      assert.is_nil(nb.bias)
      assert.are.equal(1, #nb:parameters())
    end)

    it("starts uniform in +-1/sqrt(in_features)", function()
      luann.manual_seed(1)
      local m = nn.Linear(400, 300)
      local bound = 1 / math.sqrt(400)
      local w = m.weight:detach()
      assert.is_true(w:max():item() <= bound and w:min():item() >= -bound)
      assert.is_true(w:max():item() > 0.9 * bound and w:min():item() < -0.9 * bound)
      assert.is_true(m.bias:detach():abs():max():item() <= bound)
      -- the variance of U(-b, b) is b^2/3
      close(bound ^ 2 / 3, w:double():square():mean():item(), 0.05)
    end)

    it("checks its arguments", function()
      assert.has_error(function() nn.Linear(-1, 2) end,
        "nn.Linear: bad argument #1 'in_features' (must be >= 0, got -1)")
      assert.has_error(function() nn.Linear(2.5, 2) end,
        "nn.Linear: bad argument #1 'in_features' (integer expected, got 2.5)")
      assert.has_error(function() nn.Linear(2, 2, "yes") end,
        "nn.Linear: bad argument #3 'bias' (boolean expected, got string)")
    end)

    it("has correct gradients", function()
      local m = nn.Linear(3, 2, { dtype = "float64" })
      local x = luann.randn(4, 3, { dtype = "float64", requires_grad = true })
      assert.is_true(gradcheck(function(a, w, b) return luann.linear(a, w, b) end, { x, m.weight, m.bias }))
    end)
  end)

  describe("activations", function()
    local x = { -2, -0.5, 0, 0.5, 3 }
    local function apply(m) return m(f64(x)):tolist() end

    it("compute their formulas", function()
      assert.are.same({ 0, 0, 0, 0.5, 3 }, apply(nn.ReLU()))
      close({ -0.02, -0.005, 0, 0.5, 3 }, apply(nn.LeakyReLU()))
      close({ -0.4, -0.1, 0, 0.5, 3 }, apply(nn.LeakyReLU(0.2)))
      local sig, tanh, silu = {}, {}, {}
      for i, v in ipairs(x) do
        sig[i] = 1 / (1 + math.exp(-v))
        tanh[i] = (math.exp(v) - math.exp(-v)) / (math.exp(v) + math.exp(-v))
        silu[i] = v * sig[i]
      end
      close(sig, apply(nn.Sigmoid()))
      close(tanh, apply(nn.Tanh()))
      close(silu, apply(nn.SiLU()))
      -- x * Phi(x), Phi from tables of the normal CDF
      close({ -2 * 0.022750131948179, -0.5 * 0.308537538725987, 0, 0.5 * 0.691462461274013,
        3 * 0.998650101968370 }, apply(nn.GELU()))
      local t = f64(x)
      assert.is_true(rawequal(t, nn.Identity()(t)))
    end)

    it("softmax and log_softmax normalise along a dim", function()
      local t = f64({ { 1, 2, 3 }, { 0, 0, 0 } })
      local e = { math.exp(1), math.exp(2), math.exp(3) }
      local s = e[1] + e[2] + e[3]
      local want = { { e[1] / s, e[2] / s, e[3] / s }, { 1 / 3, 1 / 3, 1 / 3 } }
      local got = nn.Softmax(2)(t):tolist()
      for r = 1, 2 do close(want[r], got[r]) end
      local lgot = nn.LogSoftmax(2)(t):tolist()
      for r = 1, 2 do
        for c = 1, 3 do close(math.log(want[r][c]), lgot[r][c]) end
      end
      local col = nn.Softmax(1)(t):tolist()
      close(math.exp(1) / (math.exp(1) + 1), col[1][1])
      assert.are.equal("Softmax(dim=2)", tostring(nn.Softmax(2)))
    end)

    it("have correct gradients", function()
      local t = luann.randn(3, 4, { dtype = "float64", requires_grad = true })
      for _, m in ipairs({ nn.Sigmoid(), nn.Tanh(), nn.SiLU(), nn.GELU(), nn.LeakyReLU(0.1),
        nn.Softmax(2), nn.LogSoftmax(1) }) do
        assert.is_true(gradcheck(function(a) return m(a) end, { t }))
      end
    end)
  end)

  describe("Dropout", function()
    it("zeroes about p of the elements and scales the rest by 1/(1-p)", function()
      luann.manual_seed(7)
      local d = nn.Dropout(0.25)
      local y = d(luann.ones(100, 100)):reshape(-1):tolist()
      local zeros = 0
      for _, v in ipairs(y) do
        if v == 0 then zeros = zeros + 1 else close(1 / 0.75, v) end
      end
      assert.is_true(zeros > 2300 and zeros < 2700, "zeros: " .. zeros)
    end)

    it("passes the input through in eval mode or with p = 0", function()
      local x = luann.rand(5)
      assert.are.same(x:tolist(), nn.Dropout(0.5):eval()(x):tolist())
      assert.are.same(x:tolist(), nn.Dropout(0)(x):tolist())
      assert.are.same({ 0, 0, 0, 0, 0 }, nn.Dropout(1)(x):tolist())
      assert.has_error(function() nn.Dropout(1.5) end,
        "nn.Dropout: bad argument #1 'p' (1.5 out of range [0, 1])")
    end)

    it("sends gradients only through kept elements", function()
      local x = luann.ones(50, { requires_grad = true })
      local y = nn.Dropout(0.5)(x)
      y:sum():backward()
      local yv, gv = y:tolist(), x.grad:tolist()
      for i = 1, 50 do assert.are.equal(yv[i], gv[i]) end
    end)
  end)

  describe("Flatten", function()
    it("keeps the batch dim by default", function()
      assert.are.same({ 4, 784 }, nn.Flatten()(luann.zeros(4, 1, 28, 28)).shape)
      assert.are.same({ 4, 28, 28 }, nn.Flatten(2, 3)(luann.zeros(4, 1, 28, 28)).shape)
      assert.are.same({ 3136 }, nn.Flatten(1)(luann.zeros(4, 1, 28, 28)).shape)
    end)
  end)

  describe("Sequential", function()
    it("runs its children in order and indexes them", function()
      local seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
      assert.are.equal(3, #seq)
      assert.are.equal("ReLU", getmetatable(seq[2]).__name)
      assert.are.equal(seq[3], seq[-1])
      assert.is_nil(seq[4])
      local x = luann.rand(5, 4)
      local want = seq[3](luann.relu(seq[1](x)))
      assert.are.same(want:tolist(), seq(x):tolist())
      assert.are.same({ "1.weight", "1.bias", "3.weight", "3.bias" }, names(seq:named_parameters()))
      seq:append(nn.Sigmoid())
      assert.are.equal(4, #seq)
    end)

    it("takes a list of modules or of {name, module} pairs", function()
      local a = nn.Sequential({ nn.ReLU(), nn.Tanh() })
      assert.are.equal(2, #a)
      local b = nn.Sequential({ { "fc", nn.Linear(2, 2) }, { "act", nn.ReLU() } })
      assert.are.same({ "fc.weight", "fc.bias" }, names(b:named_parameters()))
      assert.are.equal(b.act, b[2])
      assert.has_error(function() nn.Sequential(nn.ReLU(), 3) end,
        "nn.Sequential: bad argument #2 (nn.Module expected, got number)")
    end)
  end)

  describe("ModuleList and ModuleDict", function()
    it("register their items", function()
      local Net = nn.Module:extend("Net")
      function Net:__init()
        self.layers = nn.ModuleList({ nn.Linear(2, 2), nn.Linear(2, 2) })
        self.heads = nn.ModuleDict({ b = nn.Linear(2, 1), a = nn.Linear(2, 3) })
      end
      local n = Net()
      n.layers:append(nn.Linear(2, 2))
      assert.are.equal(3, #n.layers)
      local count = 0
      for i, l in ipairs(n.layers) do count = count + 1 assert.are.equal(l, n.layers[i]) end
      assert.are.equal(3, count)
      assert.are.same({ "a", "b" }, n.heads:keys())
      assert.are.same({ 3, 2 }, n.heads.a.weight.shape)
      assert.are.same({ "layers.1.weight", "layers.1.bias", "layers.2.weight", "layers.2.bias",
        "layers.3.weight", "layers.3.bias", "heads.a.weight", "heads.a.bias", "heads.b.weight",
        "heads.b.bias" }, names(n:named_parameters()))
      n.layers:insert(1, nn.ReLU())
      assert.are.equal("ReLU", getmetatable(n.layers[1]).__name)
      assert.are.equal(4, #n.layers)
    end)
  end)

  describe("losses", function()
    local logits = { { 1, 2, 0.5 }, { 0.1, -1, 2 } }
    local labels = { 2, 3 }
    -- -log softmax(x)[y], by hand
    local function ce_row(row, y)
      local s = 0
      for _, v in ipairs(row) do s = s + math.exp(v) end
      return math.log(s) - row[y]
    end

    it("CrossEntropyLoss matches -log softmax", function()
      local x, y = f64(logits), luann.tensor(labels, { dtype = "int64" })
      local l1, l2 = ce_row(logits[1], 2), ce_row(logits[2], 3)
      close((l1 + l2) / 2, nn.CrossEntropyLoss()(x, y):item())
      close(l1 + l2, nn.CrossEntropyLoss({ reduction = "sum" })(x, y):item())
      close({ l1, l2 }, nn.CrossEntropyLoss({ reduction = "none" })(x, y):tolist())
      local w = f64({ 1, 2, 3 })
      close((2 * l1 + 3 * l2) / 5, nn.CrossEntropyLoss({ weight = w })(x, y):item())
      -- label smoothing: (1 - e) nll + e * mean over classes of -log p
      local e = 0.1
      local function smooth(row, yy)
        local s = 0
        for c = 1, 3 do s = s + ce_row(row, c) end
        return (1 - e) * ce_row(row, yy) + e * s / 3
      end
      close((smooth(logits[1], 2) + smooth(logits[2], 3)) / 2,
        nn.CrossEntropyLoss({ label_smoothing = e })(x, y):item())
    end)

    it("CrossEntropyLoss checks its options", function()
      assert.has_error(function() nn.CrossEntropyLoss({ reduce = "sum" }) end,
        "nn.CrossEntropyLoss: unknown option 'reduce' (known: ignore_index, label_smoothing, reduction, weight)")
      assert.has_error(function() nn.CrossEntropyLoss({ reduction = "avg" }) end,
        "nn.CrossEntropyLoss: bad argument #1 'reduction' (expected one of \"mean\", \"sum\", \"none\", got \"avg\")")
    end)

    it("NLLLoss picks -logp[y]", function()
      local lp = f64({ { -1, -2, -3 }, { -0.5, -0.25, -4 } })
      local y = luann.tensor({ 3, 1 }, { dtype = "int64" })
      close(3.5 / 2, nn.NLLLoss()(lp, y):item())
      close({ 3, 0.5 }, nn.NLLLoss({ reduction = "none" })(lp, y):tolist())
      close((3 * 1 + 0.5 * 4) / 5, nn.NLLLoss({ weight = f64({ 4, 1, 1 }) })(lp, y):item())
    end)

    it("MSE, L1 and SmoothL1 follow their formulas", function()
      local a, b = f64({ 1, 2, 3, -1 }), f64({ 1.5, 0, 3, 1 })
      close((0.25 + 4 + 0 + 4) / 4, nn.MSELoss()(a, b):item())
      close(8.25, nn.MSELoss({ reduction = "sum" })(a, b):item())
      close((0.5 + 2 + 0 + 2) / 4, nn.L1Loss()(a, b):item())
      close({ 0.5, 2, 0, 2 }, F.l1_loss(a, b, "none"):tolist())
      -- beta 1: 0.5 d^2 for d < 1, d - 0.5 above
      close({ 0.125, 1.5, 0, 1.5 }, nn.SmoothL1Loss({ reduction = "none" })(a, b):tolist())
      -- beta 3: 0.5 d^2 / 3 everywhere here
      close({ 0.125 / 3, 2 / 3, 0, 2 / 3 }, F.smooth_l1_loss(a, b, { beta = 3, reduction = "none" }):tolist())
      close((0.125 / 3 + 4 / 3) / 4, nn.SmoothL1Loss(3)(a, b):item())
    end)

    it("BCELoss follows its formula and clamps the log at -100", function()
      local p, y = f64({ 0.9, 0.2, 0, 1 }), f64({ 1, 0, 1, 1 })
      local want = { -math.log(0.9), -math.log(0.8), 100, 0 }
      close(want, nn.BCELoss({ reduction = "none" })(p, y):tolist())
      close((want[1] + want[2] + want[3]) / 4, nn.BCELoss()(p, y):item())
      close(2 * want[1], F.binary_cross_entropy(p, y, { weight = f64({ 2, 0, 0, 0 }), reduction = "sum" }):item())
      assert.has_error(function() nn.BCELoss()(f64({ 1.5 }), f64({ 1 })) end,
        "binary_cross_entropy: all elements of input should be between 0 and 1")
    end)

    it("BCEWithLogitsLoss is stable and weighs positives", function()
      local x, y = f64({ 0.5, -1, 200, -200 }), f64({ 1, 0, 0, 1 })
      local function naive(v, t, pw)
        local s = 1 / (1 + math.exp(-v))
        return -(pw * t * math.log(s) + (1 - t) * math.log(1 - s))
      end
      local got = nn.BCEWithLogitsLoss({ reduction = "none" })(x, y):tolist()
      close({ naive(0.5, 1, 1), naive(-1, 0, 1), 200, 200 }, got)
      local pw = nn.BCEWithLogitsLoss({ pos_weight = f64({ 3 }), reduction = "none" })(f64({ 0.5, -1 }), f64({ 1, 0 }))
      close({ naive(0.5, 1, 3), naive(-1, 0, 3) }, pw:tolist())
    end)

    it("have correct gradients", function()
      luann.manual_seed(3)
      local x = luann.randn(4, 3, { dtype = "float64", requires_grad = true })
      local t = luann.randn(4, 3, { dtype = "float64" })
      local y = luann.tensor({ 1, 3, 2, 2 }, { dtype = "int64" })
      local p = luann.rand(4, 3, { dtype = "float64" }) * 0.8 + 0.1
      p:requires_grad_(true)
      local bin = luann.rand(4, 3, { dtype = "float64" })
      local cases = {
        function(a) return nn.CrossEntropyLoss()(a, y) end,
        function(a) return nn.CrossEntropyLoss({ label_smoothing = 0.2, reduction = "sum" })(a, y) end,
        function(a) return nn.NLLLoss()(F.log_softmax(a, 2), y) end,
        function(a) return nn.MSELoss()(a, t) end,
        function(a) return nn.SmoothL1Loss(0.5)(a, t) end,
        function(a) return nn.BCEWithLogitsLoss({ pos_weight = f64({ 1, 2, 3 }) })(a, bin) end,
      }
      for _, fn in ipairs(cases) do assert.is_true(gradcheck(fn, { x })) end
      assert.is_true(gradcheck(function(a) return nn.BCELoss()(a, bin) end, { p }))
      assert.is_true(gradcheck(function(a) return nn.L1Loss()(a, t) end, { x }))
    end)
  end)

  describe("functional", function()
    it("one_hot encodes 1-based classes", function()
      assert.are.same({ { 0, 1, 0 }, { 0, 0, 1 }, { 1, 0, 0 } },
        F.one_hot(luann.tensor({ 2, 3, 1 }, { dtype = "int64" }), 3):tolist())
    end)

    it("checks its arguments", function()
      assert.has_error(function() F.relu(3) end, "relu: bad argument #1 'input' (tensor expected, got number)")
      assert.has_error(function() F.mse_loss(luann.zeros(2), "x") end,
        "mse_loss: bad argument #2 'target' (tensor expected, got string)")
    end)
  end)

  describe("init", function()
    it("computes PyTorch's gains and fans", function()
      local init = nn.init
      assert.are.equal(1, init.calculate_gain("linear"))
      assert.are.equal(1, init.calculate_gain("sigmoid"))
      close(5 / 3, init.calculate_gain("tanh"))
      close(math.sqrt(2), init.calculate_gain("relu"))
      close(math.sqrt(2 / (1 + 0.01 ^ 2)), init.calculate_gain("leaky_relu"))
      close(math.sqrt(2 / (1 + 5)), init.calculate_gain("leaky_relu", math.sqrt(5)))
      assert.are.equal(0.75, init.calculate_gain("selu"))
      local fi, fo = init.calculate_fan_in_and_fan_out(luann.empty(16, 8, 3, 3))
      assert.are.same({ 72, 144 }, { fi, fo })
      assert.has_error(function() init.calculate_fan_in_and_fan_out(luann.empty(3)) end,
        "calculate_fan_in_and_fan_out: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions")
      assert.has_error(function() init.calculate_gain("swish") end, "calculate_gain: unsupported nonlinearity swish")
    end)

    it("fills within the documented bounds", function()
      luann.manual_seed(11)
      local init = nn.init
      local w = luann.empty(200, 100)
      local function range(t) return t:min():item(), t:max():item() end
      init.xavier_uniform_(w)
      local a = math.sqrt(6 / 300)
      local lo, hi = range(w)
      assert.is_true(lo >= -a and hi <= a and hi > 0.95 * a)
      init.kaiming_uniform_(w, { mode = "fan_out", nonlinearity = "relu" })
      local b = math.sqrt(2) * math.sqrt(3 / 200)
      lo, hi = range(w)
      assert.is_true(lo >= -b and hi <= b and hi > 0.95 * b)
      init.kaiming_normal_(w, 0, "fan_in", "relu")
      close(2 / 100, w:double():square():mean():item(), 0.05)
      init.xavier_normal_(w, 2)
      close(4 * 2 / 300, w:double():square():mean():item(), 0.05)
      init.normal_(w, 3, 0.5)
      close(3, w:double():mean():item(), 0.01)
      init.uniform_(w, -2, -1)
      lo, hi = range(w)
      assert.is_true(lo >= -2 and hi <= -1)
      assert.are.same({ 7, 7 }, init.constant_(luann.empty(2), 7):tolist())
      assert.are.same({ 1, 1 }, init.ones_(luann.empty(2)):tolist())
      assert.are.same({ 0, 0 }, init.zeros_(luann.empty(2)):tolist())
    end)

    it("works on parameters that require grad, without recording", function()
      local p = nn.Parameter(luann.empty(3, 3))
      nn.init.ones_(p)
      assert.is_true(p.is_leaf)
      assert.is_nil(p.grad_fn)
    end)
  end)

  describe("utils", function()
    it("clip_grad_norm_ scales all gradients to max_norm and returns the total", function()
      local a = luann.zeros(2, { requires_grad = true })
      local b = luann.zeros(1, { requires_grad = true })
      ;((a * luann.tensor({ 3, 0 })):sum() + (b * 4):sum()):backward()  -- grads (3, 0) and (4): norm 5
      local total = nn.utils.clip_grad_norm_({ a, b }, 1)
      close(5, total:item())
      close({ 0.6, 0 }, a.grad:tolist(), 1e-5)
      close({ 0.8 }, b.grad:tolist(), 1e-5)
      close(1, nn.utils.clip_grad_norm_({ a, b }, 10):item(), 1e-5)
      close({ 0.6, 0 }, a.grad:tolist(), 1e-5)
      close(0.8, nn.utils.clip_grad_norm_({ a, b }, 10, math.huge):item(), 1e-5)
      close(1.4, nn.utils.clip_grad_norm_({ a, b }, 10, 1):item(), 1e-5)
    end)

    it("flattens parameters into a vector and back", function()
      local m = nn.Linear(3, 2)
      local v = nn.utils.parameters_to_vector(m:parameters())
      assert.are.same({ 8 }, v.shape)
      assert.are.same(m.bias:tolist(), { v:tolist()[7], v:tolist()[8] })
      nn.utils.vector_to_parameters(luann.arange(1, 9):float(), m:parameters())
      assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, m.weight:tolist())
      assert.are.same({ 7, 8 }, m.bias:tolist())
      assert.is_true(m.weight.requires_grad)
      assert.has_error(function() nn.utils.vector_to_parameters(luann.zeros(3), m:parameters()) end,
        "vector_to_parameters: vec has shape (3), the parameters hold 8 values")
    end)

    it("clip_grad_value_ clamps each element", function()
      local a = luann.zeros(3, { requires_grad = true })
      ;(a * luann.tensor({ -5, 0.5, 2 })):sum():backward()
      nn.utils.clip_grad_value_({ a }, 1)
      assert.are.same({ -1, 0.5, 1 }, a.grad:tolist())
    end)
  end)
end)
