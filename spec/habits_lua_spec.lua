-- habits_lua_spec.lua: what a PyTorch user's habits meet in the Lua
-- library (issue 11): a '.' call for ':', misspelled options, losses of
-- mismatched shapes, 0-based or float class labels, floats for integers,
-- custom datasets, plain tables of modules, and errors that name the
-- user's line rather than a line of lua/luann/*.lua.
local luann = require "luann"
local nn = require "luann.nn"
local optim = require "luann.optim"
local data = require "luann.data"
local class = require "luann.utils.class"
local F = nn.functional
local err_of = require("helpers").err_of

local function long(list) return luann.tensor(list, { dtype = "int64" }) end

-- Runs fn with io.stderr replaced by a collector; returns what was written.
local function stderr_of(fn)
  local saved, written = io.stderr, {}
  io.stderr = { write = function(self, ...)
    for _, s in ipairs({ ... }) do written[#written + 1] = s end
    return self
  end }
  local ok, err = pcall(fn)
  io.stderr = saved
  assert(ok, err)
  return table.concat(written)
end

-- Every class reachable from the library's tables: nn's layers (all of
-- them loaded), the optimizers and schedulers, data's classes and
-- transforms, the distributions, the utils' classes.
local function library_classes()
  local out, seen = {}, {}
  local function add(c)
    if type(c) == "table" and type(rawget(c, "__name")) == "string" and not seen[c] then
      seen[c] = true
      out[#out + 1] = c
      if rawget(c, "super") then add(rawget(c, "super")) end
    end
  end
  for _, t in ipairs({ nn, optim, optim.lr_scheduler, data, data.transforms,
    luann.distributions, luann.utils }) do
    for _, v in pairs(t) do add(v) end
  end
  return out
end

describe("a PyTorch user's habits", function()
  describe("'.' for ':'", function()
    it("says so, with the call to write instead", function()
      local m = nn.Linear(2, 2)
      local opt = optim.SGD(m:parameters(), { lr = 0.1 })
      local sched = optim.lr_scheduler.StepLR(opt, 2)
      local loader = data.DataLoader(data.TensorDataset(luann.ones(4)), { batch_size = 2 })
      assert.has_error(function() m.parameters() end,
        "Module.parameters: called with '.' instead of ':' (use m:parameters())")
      assert.has_error(function() m.eval() end,
        "Module.eval: called with '.' instead of ':' (use m:eval())")
      assert.has_error(function() m.forward(luann.ones(2)) end,
        "Linear.forward: called with '.' instead of ':' (use m:forward())")
      assert.has_error(function() opt.step() end,
        "Optimizer.step: called with '.' instead of ':' (use opt:step())")
      assert.has_error(function() opt.zero_grad() end,
        "Optimizer.zero_grad: called with '.' instead of ':' (use opt:zero_grad())")
      assert.has_error(function() sched.step() end,
        "LRScheduler.step: called with '.' instead of ':' (use scheduler:step())")
      assert.has_error(function() loader.iter() end,
        "DataLoader.iter: called with '.' instead of ':' (use loader:iter())")
      assert.has_error(function() loader.dataset.get(1) end,
        "TensorDataset.get: called with '.' instead of ':' (use dataset:get())")
    end)

    it("covers the user's own classes", function()
      local Net = nn.Module:extend("HabitsNet")
      function Net:__init() self.fc = nn.Linear(3, 1) end
      function Net:forward(x) return self.fc(x) end
      local m = Net()
      assert.has_error(function() m.forward(luann.ones(3)) end,
        "HabitsNet.forward: called with '.' instead of ':' (use m:forward())")
      assert.equal(1, m(luann.ones(2, 3)):size(2))
      assert.equal(1, m:forward(luann.ones(2, 3)):size(2))
    end)

    it("names a wrong self of another class", function()
      local m = nn.Linear(2, 2)
      local opt = optim.SGD(m:parameters())
      assert.has_error(function() nn.Module.parameters(opt) end,
        "Module.parameters: expected a Module as self, got SGD "
        .. "(called with '.' instead of ':'? use m:parameters())")
    end)

    it("is checked by every method of every library class", function()
      local checked = 0
      for _, c in ipairs(library_classes()) do
        for k, v in pairs(c) do
          if type(k) == "string" and k:sub(1, 2) ~= "__" and type(v) == "function" then
            local f = class.unchecked[v] or v
            if debug.getlocal(f, 1) == "self" then
              local who = c.__name .. "." .. k
              assert.is_not_nil(class.unchecked[v], who .. " is not checked")
              local want = who .. ": called with '.' instead of ':' (use "
              assert.equal(want, err_of(v, nil):sub(1, #want), who)
              checked = checked + 1
            end
          end
        end
      end
      assert.is_true(checked > 100, "only " .. checked .. " methods found")
    end)

    it("leaves right calls alone: inherited, copied and class-level methods", function()
      local list = nn.ModuleList():append(nn.Linear(2, 2)) -- append comes from Sequential
      assert.equal(1, #list)
      local Sub = nn.ModuleList:extend("HabitsList") -- extend called on the class
      assert.equal("HabitsList", Sub.__name)
      local opt = optim.Adam(list:parameters()) -- step inherited from Optimizer
      list[1](luann.ones(2)):sum():backward()
      opt:step()
      assert.has_error(function() nn.Module.extend("X") end,
        "Module.extend: called with '.' instead of ':' (use m:extend())")
    end)
  end)

  describe("options", function()
    it("are checked against the known keys, listed in the error", function()
      assert.equal("nn.Linear: unknown option 'bais' (known: bias, device, dtype)",
        err_of(nn.Linear, 2, 2, { bais = false }))
      assert.equal("nn.LayerNorm: unknown option 'esp' (known: bias, device, dtype, "
        .. "elementwise_affine, eps)", err_of(nn.LayerNorm, 3, { esp = 1e-6 }))
      assert.equal("nn.Fold: unknown option 'strides' (known: dilation, padding, stride)",
        err_of(nn.Fold, 4, 2, { strides = 1 }))
      assert.equal("nn.Unfold: unknown option 'pad' (known: dilation, padding, stride)",
        err_of(nn.Unfold, 2, { pad = 1 }))
      local opt = optim.SGD(nn.Linear(2, 2):parameters())
      assert.equal("lr_scheduler.StepLR: unknown option 'step_sise' (known: gamma, last_epoch, "
        .. "step_size)", err_of(optim.lr_scheduler.StepLR, opt, { step_sise = 2 }))
      assert.equal("lr_scheduler.CosineAnnealingLR: unknown option 'Tmax' (known: T_max, "
        .. "eta_min, last_epoch)", err_of(optim.lr_scheduler.CosineAnnealingLR, opt, { Tmax = 2 }))
      assert.matches("^lr_scheduler.OneCycleLR: unknown option 'max_momentun' %(known: .*max_momentum",
        err_of(optim.lr_scheduler.OneCycleLR, opt, { max_lr = 1, total_steps = 10, max_momentun = 0.9 }))
      assert.equal("init.uniform_: unknown option 'c' (known: a, b)",
        err_of(nn.init.uniform_, luann.ones(2), { a = 1, c = 2 }))
      assert.equal("init.kaiming_uniform_: unknown option 'nonlinearty' (known: a, mode, nonlinearity)",
        err_of(nn.init.kaiming_uniform_, luann.ones(2, 2), { nonlinearty = "relu" }))
      assert.equal("gradcheck: unknown option 'atoll' (known: atol, eps, rtol)",
        err_of(luann.autograd.gradcheck, function(x) return x:sum() end,
          luann.ones(2, { dtype = "float64", requires_grad = true }), { atoll = 1 }))
      local d = luann.distributions.Normal(luann.zeros(2), luann.ones(2))
      assert.equal("Normal.rsample: unknown option 'seed' (known: generator)",
        err_of(d.sample, d, nil, { seed = 1 }))
      -- the library's own uses still pass: Linear's default init gives kaiming_uniform_ {a =}
      assert.equal(2, nn.Linear(2, 2, { bias = false, dtype = "float64" }).weight:size(1))
    end)
  end)

  describe("elementwise losses", function()
    local cases = {
      { "mse_loss", nn.MSELoss },
      { "l1_loss", nn.L1Loss },
      { "smooth_l1_loss", nn.SmoothL1Loss },
      { "binary_cross_entropy", nn.BCELoss },
      { "binary_cross_entropy_with_logits", nn.BCEWithLogitsLoss },
    }

    it("refuse a target of another shape, naming both (functional and module)", function()
      local x, y = luann.full({ 4, 1 }, 0.5), luann.full({ 4 }, 0.5)
      for _, c in ipairs(cases) do
        local want = c[1] .. ": target shape (4) must match input shape (4,1)"
        assert.equal(want, err_of(F[c[1]], x, y))
        local m = c[2]()
        assert.equal(want, err_of(m, x, y))
      end
    end)

    it("still compute equal shapes: mse of (4,1) against itself plus 1 is 1", function()
      local x = luann.arange(4, { dtype = "float32" }):view(4, 1)
      assert.equal(1, F.mse_loss(x, x + 1):item())
      assert.equal(1, F.l1_loss(x, x + 1):item())
      assert.equal(0.25, F.smooth_l1_loss(x, x + 1, { beta = 2 }):item()) -- 0.5 d^2 / beta
    end)
  end)

  describe("class labels", function()
    local x = luann.zeros(4, 10)

    it("say a float target has the wrong dtype, and what to pass", function()
      local labels = luann.tensor({ 1, 2, 3, 4 }, { dtype = "float32" })
      local want = "cross_entropy: target is float32 of shape (4,): class indices must be int64, "
        .. "or pass probabilities of shape (4,10)"
      assert.equal(want, err_of(F.cross_entropy, x, labels))
      assert.equal(want, err_of(nn.CrossEntropyLoss(), x, labels))
      assert.equal("nll_loss: target must be int64 class indices, got float32",
        err_of(F.nll_loss, x, labels))
      -- probabilities of the input's shape are taken: uniform logits give log(10)
      local p = luann.full({ 4, 10 }, 0.1)
      assert.is_true(math.abs(F.cross_entropy(x, p):item() - math.log(10)) < 1e-6)
    end)

    it("say a 0 label is out of range because classes are 1-based", function()
      local hint = " (class indices are 1-based in luann; add 1 to 0-based labels)"
      assert.equal("cross_entropy: target 0 is out of range for 10 classes" .. hint,
        err_of(F.cross_entropy, x, long({ 0, 1, 2, 3 })))
      assert.equal("nll_loss: target 0 is out of range for 10 classes" .. hint,
        err_of(nn.NLLLoss(), x, long({ 3, 0, 1, 2 })))
      assert.equal("cross_entropy: target 11 is out of range for 10 classes",
        err_of(F.cross_entropy, x, long({ 1, 11, 2, 3 })))
      -- 0-based labels plus 1 are right: uniform logits give log(10)
      local y0 = long({ 0, 9, 2, 3 })
      assert.is_true(math.abs(F.cross_entropy(x, y0 + 1):item() - math.log(10)) < 1e-6)
    end)
  end)

  describe("integers", function()
    it("take a float with an exact integer value", function()
      local fc = nn.Linear(4 / 2, 3)
      assert.equal("integer", math.type(fc.in_features))
      assert.same({ 3, 2 }, { fc.weight:size(1), fc.weight:size(2) })
      local sizes = {}
      for x in data.DataLoader(data.TensorDataset(luann.arange(5)), { batch_size = 4 / 2 }) do
        sizes[#sizes + 1] = x:size(1)
      end
      assert.same({ 2, 2, 1 }, sizes)
      local seq = nn.Sequential(nn.ReLU(), nn.Tanh())
      assert.equal(seq[2], seq[4 / 2])
      local ds = data.TensorDataset(luann.arange(5) * 10)
      assert.equal(10, ds[4 / 2]:item())
      assert.equal(20, data.Subset(ds, { 6 / 2 }):get(1):item())
      local list = nn.ModuleList({ nn.ReLU() })
      list:insert(2.0, nn.Tanh())
      assert.equal("Tanh", class.typename(list[2]))
    end)

    it("refuse any other float, naming the argument", function()
      assert.equal("nn.Linear: bad argument #1 'in_features' (integer expected, got 2.5)",
        err_of(nn.Linear, 2.5, 3))
      assert.equal("data.DataLoader: bad argument #2 'batch_size' (integer expected, got 2.5)",
        err_of(data.DataLoader, data.TensorDataset(luann.ones(4)), { batch_size = 2.5 }))
      assert.equal("Sequential: index must be an integer, got 1.5",
        err_of(function() return nn.Sequential(nn.ReLU())[1.5] end))
      assert.equal("TensorDataset: index must be an integer, got 1.5",
        err_of(function() return data.TensorDataset(luann.ones(4))[1.5] end))
      assert.equal("data.Subset: index 1.5 at position 1 is not an integer",
        err_of(data.Subset, data.TensorDataset(luann.ones(4)), { 1.5 }))
      assert.equal("insert: index 1.5 out of range for a list of 1",
        err_of(function() nn.ModuleList({ nn.ReLU() }):insert(1.5, nn.Tanh()) end))
    end)
  end)

  describe("custom datasets", function()
    it("follow the protocol: get(i), 1-based, and __len", function()
      local Squares = data.Dataset:extend("HabitsSquares")
      function Squares:__len() return 3 end
      function Squares:get(i) return i, i * i end
      local xs, ys = {}, {}
      for x, y in data.DataLoader(Squares(), { batch_size = 3 }) do xs, ys = x:tolist(), y:tolist() end
      assert.same({ 1, 2, 3 }, xs)
      assert.same({ 1, 4, 9 }, ys)
      assert.equal("HabitsEmpty: get is not implemented (define get(i), 1-based, and __len)",
        err_of(function() local E = data.Dataset:extend("HabitsEmpty"); return E():get(1) end))
    end)

    it("take PyTorch's __getitem, with a hint once", function()
      local Sq = data.Dataset:extend("HabitsGetitem")
      function Sq:__len() return 4 end
      function Sq:__getitem(i) return i * i end
      local batches = {}
      local hint = stderr_of(function()
        for _ = 1, 2 do
          for y in data.DataLoader(Sq(), { batch_size = 2 }) do batches[#batches + 1] = y:tolist() end
        end
      end)
      assert.same({ { 1, 4 }, { 9, 16 }, { 1, 4 }, { 9, 16 } }, batches)
      assert.equal("luann warning: HabitsGetitem defines __getitem, used as get; luann's name "
        .. "for it is get(i), and i is 1-based (1..#dataset)\n", hint)
      -- a table that is not a data.Dataset, with __getitem and __len
      local plain = setmetatable({}, { __len = function() return 2 end, __name = "HabitsProto",
        __index = { __getitem = function(_, i) return i + 0.5 end } })
      local got
      stderr_of(function()
        for y in data.DataLoader(plain, { batch_size = 2 }) do got = y:tolist() end
      end)
      assert.same({ 1.5, 2.5 }, got)
    end)

    it("may be a plain Lua list of samples", function()
      local samples = { { luann.tensor({ 1, 2 }), 1 }, { luann.tensor({ 3, 4 }), 2 },
        { luann.tensor({ 5, 6 }), 3 } }
      local xs, ys = {}, {}
      for x, y in data.DataLoader(samples, { batch_size = 2 }) do
        xs[#xs + 1], ys[#ys + 1] = x:tolist(), y:tolist()
      end
      assert.same({ { { 1, 2 }, { 3, 4 } }, { { 5, 6 } } }, xs)
      assert.same({ { 1, 2 }, { 3 } }, ys)
      local values = {}
      for v in data.DataLoader({ 0.5, 1.5, 2.5 }, { batch_size = 3 }) do values = v:tolist() end
      assert.same({ 0.5, 1.5, 2.5 }, values)
      assert.equal(3, #data.ListDataset(samples))
    end)
  end)

  describe("plain tables of modules", function()
    it("are not registered, and a warning points at nn.ModuleList once", function()
      local Plain = nn.Module:extend("HabitsPlain")
      function Plain:__init() self.layers = { nn.Linear(2, 2), nn.Linear(2, 2) } end
      local msg = stderr_of(function()
        assert.equal(0, #Plain():parameters())
        assert.equal(0, #Plain():parameters())
      end)
      assert.equal("luann warning: HabitsPlain.layers is a plain Lua table holding modules: "
        .. "their parameters are not registered (parameters(), state_dict(), train() and to() "
        .. "skip them); use nn.ModuleList (or nn.ModuleDict for names) instead\n", msg)
      -- the pointer's fix: same keys as the plain list would have had
      local Listed = nn.Module:extend("HabitsListed")
      function Listed:__init() self.layers = nn.ModuleList({ nn.Linear(2, 2), nn.Linear(2, 2) }) end
      local quiet = stderr_of(function()
        local keys = {}
        for k in pairs(Listed():state_dict()) do keys[#keys + 1] = k end
        table.sort(keys)
        assert.same({ "layers.1.bias", "layers.1.weight", "layers.2.bias", "layers.2.weight" }, keys)
      end)
      assert.equal("", quiet)
    end)
  end)

  describe("errors", function()
    -- The error of fn, and the place it must name: fn's own line in this file.
    local function raised(fn)
      local info = debug.getinfo(fn, "S")
      local ok, err = pcall(fn)
      assert.is_false(ok)
      return tostring(err), info.short_src .. ":" .. info.linedefined .. ": "
    end

    it("name the user's line, not a line of the library", function()
      local m = nn.Linear(2, 3)
      local x4 = luann.zeros(4, 10)
      local opt = optim.SGD(m:parameters())
      local calls = {
        function() m.parameters() end,
        function() nn.Linear(2.5, 3) end,
        function() nn.Linear(2, 2, { bais = false }) end,
        function() optim.SGD(m:parameters(), { lrr = 1 }) end,
        function() optim.lr_scheduler.StepLR(opt, { step_sise = 2 }) end,
        function() nn.init.uniform_(luann.ones(2), { c = 1 }) end,
        function() F.mse_loss(luann.zeros(4, 1), luann.zeros(4)) end,
        function() nn.MSELoss()(luann.zeros(4, 1), luann.zeros(4)) end,
        function() F.cross_entropy(x4, long({ 0, 1, 2, 3 })) end,
        function() nn.CrossEntropyLoss()(x4, luann.zeros(4)) end, -- float labels
        function() m(luann.ones(2, 4)) end,
        function() nn.Sequential(nn.Linear(2, 3), nn.ReLU())(luann.ones(5)) end,
        function() data.DataLoader(data.TensorDataset(luann.ones(4)), { batch_size = 2.5 }) end,
        function() data.DataLoader(5) end,
        function() nn.BatchNorm1d(3)(luann.ones(2, 4)) end,
        function() nn.MaxPool2d(2)(luann.ones(3)) end,
        function() F.max_pool2d(luann.ones(1, 1, 4, 4), 9) end,
        function() nn.Embedding(4, 2, { padding = 1 }) end,
        function() nn.GRU(3, 4, { num_layer = 2 }) end,
        function() optim.SGD({}) end,
        function() data.TensorDataset(luann.ones(3), luann.ones(4)) end,
        function() luann.einsum("ij,jk->ik", luann.ones(2, 3)) end,
        -- through the library into the bindings' own errors (bindings/lerror.c)
        function() F.softmax(luann.ones(2, 3), 9) end, -- the core's, through lnb_error
        function() nn.Softmax(9)(luann.ones(2, 3)) end,
        function() m:to("nodevice") end, -- ldevice.c's lnb_errorf
        function() m("x") end, -- nn.Linear's forward into luann.linear: a type error
        function() m(5) end,
        function() F.linear(luann.ones(4, 2), m.weight, "b") end,
      }
      for i, fn in ipairs(calls) do
        local err, where = raised(fn)
        assert.equal(where, err:sub(1, #where), "call " .. i .. ": " .. err)
      end
    end)

    it("keep lauxlib's wording: bad argument #N to 'name'", function()
      local m = nn.Linear(2, 3)
      local err = raised(function() m("x") end)
      assert.truthy(err:find(": bad argument #1 to 'linear' %(tensor expected, got string%)$"), err)
      err = raised(function() F.linear(luann.ones(4, 2), m.weight, "b") end)
      assert.truthy(err:find(": bad argument #3 to 'linear' %(tensor expected, got string%)$"), err)
      err = raised(function() luann.ones(2):narrow("a") end) -- a method: self is not counted
      assert.truthy(err:find(": bad argument #1 to 'narrow' %(integer expected, got string%)$"), err)
      err = raised(function() luann.ones(2):fill_("a") end)
      assert.truthy(err:find(": bad argument #1 to 'fill_' %(number expected, got string%)$"), err)
    end)

    it("name the user's line when the user calls a binding directly", function()
      local path = os.tmpname()
      local calls = {
        function() luann.zeros(-1) end,
        function() luann.ones(2):narrow("a") end, -- lnb_check_integer
        function() luann.clamp(luann.ones(2), "a") end, -- lnb_check_number
        function() luann.ones(2):fill_("a") end,
        function() luann.ones(2, 3):view(4) end, -- the core's
        -- raised inside save's own pcall of its walk over the table
        function() luann.save(path, { f = print }) end,
      }
      for i, fn in ipairs(calls) do
        local err, where = raised(fn)
        assert.equal(where, err:sub(1, #where), "call " .. i .. ": " .. err)
      end
      os.remove(path)
    end)

    it("are raised by the bindings through lerror.c, never lauxlib's raisers", function()
      -- luaL_error, luaL_argerror and the luaL_check* helpers name the
      -- binding's immediate caller, often a library line; lerror.c has the
      -- same functions raising at the user's line. main.c runs scripts.
      local raisers = { "luaL_error", "luaL_argerror", "luaL_typeerror", "luaL_argcheck",
        "luaL_argexpected", "luaL_check%a+", "luaL_opt%a+" }
      local files = io.popen("ls bindings/*.c"):read("a")
      local checked = 0
      for path in files:gmatch("[^\n]+") do
        if path ~= "bindings/main.c" and path ~= "bindings/lerror.c" then
          local text = assert(io.open(path)):read("a")
          checked = checked + 1
          for _, name in ipairs(raisers) do
            for use in text:gmatch("(" .. name .. ")%(") do
              -- luaL_checkstack's error is Lua's own stack overflow
              assert.equal("luaL_checkstack", use, path .. " uses " .. use)
            end
          end
        end
      end
      assert.is_true(checked > 15, "bindings/*.c not found from " .. checked)
    end)

    it("name no line when a C function calls the binding, as Lua's own do", function()
      -- pcall(string.rep) names no line either; the library's own pcalls
      -- of bindings (plot.lua, image.lua) add theirs to the bare message.
      -- lauxlib's name for a function called without one: "luann.zeros"
      -- or "luann.core.zeros" (the same table is loaded under both).
      local _, err = pcall(luann.zeros, "a")
      assert.truthy(err:find("^bad argument #1 to 'luann[.%w]*zeros' %(unknown dtype 'a'"), err)
      local path = os.tmpname()
      _, err = pcall(luann.save, path, { f = print })
      os.remove(path)
      assert.equal("save: cannot save a function (at f)", err)
      _, err = pcall(string.rep)
      assert.truthy(err:find("^bad argument #1 to "), err)
    end)
  end)
end)
