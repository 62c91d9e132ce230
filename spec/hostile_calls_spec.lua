-- hostile_calls_spec.lua: regression specs for what an adversarial
-- campaign of random Lua calls found (issue 7): sizes that overflowed,
-- lengths that were truncated, empty tensors whose huge dims made loops
-- endless, and values printed or computed wrong. Calls that once crashed
-- or hung run in a child luann under `timeout`, so a regression is a
-- failed spec, not a dead or stuck busted.
local luann = require "luann"

local build = os.getenv("LUANN_BUILD") or "build"
local exe = os.getenv("LUANN_ROBUST_EXE") or (build .. "/luann")
local F = luann.nn.functional

local quote = require("helpers").quote

-- Runs code in a child luann (20 s at most, memory capped unless
-- LUANN_ROBUST_MEMORY_KB=0, as sanitizer builds need); asserts that it
-- printed "OK" at its end and exited normally.
local MEMORY_KB = tonumber(os.getenv("LUANN_ROBUST_MEMORY_KB")) or 4 * 1024 * 1024
local function survives(code)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(code, '\nprint("OK")\n')
  f:close()
  local h = assert(io.popen((MEMORY_KB > 0 and ("ulimit -v " .. MEMORY_KB .. " && ") or "")
    .. "timeout -s KILL 20 " .. quote(exe) .. " " .. quote(path) .. " 2>&1"))
  local out = h:read("a")
  local ok, _, status = h:close()
  os.remove(path)
  assert(ok and out:find("OK\n$"), "child exited with " .. tostring(status)
    .. (status == 137 and " (killed: hung past 20 s or out of memory)" or "") .. ":\n" .. out)
end

-- A table that claims length n and reads 1 at every index up to `upto`.
local function proxy(n, upto)
  return setmetatable({}, {
    __len = function() return n end,
    __index = function(_, k) if type(k) == "number" and k <= (upto or 8) then return 1 end end,
  })
end

describe("hostile calls", function()
  describe("sizes from user input", function()
    it("luann.tensor of a proxy claiming 2^62 entries raises, and luann lives on", function()
      survives [[
        local t = setmetatable({}, {__len = function() return 1 << 62 end,
          __index = function(_, k) if k <= 100000 then return 1 end end})
        local ok, err = pcall(luann.tensor, t)
        assert(not ok and err:find("tensor: 4611686018427387904 elements are too many", 1, true), err)
        collectgarbage()
        assert(luann.tensor({1, 2, 3}):sum():item() == 6)
      ]]
    end)

    it("nested proxies whose sizes multiply past 2^64 raise", function()
      local inner = proxy(1 << 32)
      local outer = setmetatable({}, { __len = function() return 1 << 33 end,
        __index = function() return inner end })
      assert.has_error(function() luann.tensor(outer) end,
        "tensor: 36893488147419103232 elements are too many")
    end)

    it("a table length that is negative, huge or not an integer is named", function()
      local t = luann.zeros(2, 3)
      assert.has_error(function() luann.tensor(proxy(-5)) end,
        "tensor: a table at depth 1 has length -5")
      local function msg(f)
        local ok, err = pcall(f)
        assert.is_false(ok)
        return err
      end
      -- lengths past 2^31 were truncated by (int) casts: 2^32 + 2 read as 2
      for _, call in ipairs {
        { function() luann.zeros(proxy(-5)) end, "a table of sizes has length -5, expected 0 to 8" },
        { function() luann.zeros(proxy((1 << 32) + 2)) end,
          "a table of sizes has length 4294967298, expected 0 to 8" },
        { function() t:view(proxy((1 << 32) + 2)) end,
          "a table of sizes has length 4294967298, expected 0 to 8" },
        { function() t:reshape(proxy(-1)) end, "a table of sizes has length -1, expected 0 to 8" },
        { function() t:permute(proxy((1 << 32) + 2)) end,
          "a table of dims has length 4294967298, expected 0 to 8" },
        { function() t:sum(proxy((1 << 32) + 1)) end,
          "a table of dims has length 4294967297, expected 0 to 8" },
        { function() t:split(proxy((1 << 32) + 2)) end,
          "a table of sizes has length 4294967298, expected 0 to 134217727" },
        { function() t:split(proxy(-3)) end, "a table of sizes has length -3, expected 0 to 134217727" },
      } do
        local err = msg(call[1])
        assert(err:find(call[2], 1, true), err)
      end
      assert.has_error(function() return t[proxy(-5)] end,
        "index: a negative number of indices (-5) for a tensor of 2 dims")
      assert.has_error(function() return t[proxy((1 << 32) + 1)] end,
        "index: too many indices (4294967297) for a tensor of 2 dims")
    end)

    it("an index table whose entries raise leaks nothing and leaves t usable", function()
      local t = luann.arange(6):view(2, 3)
      local bad = setmetatable({}, { __len = function() return 2 end,
        __index = function(_, k) if k == 1 then return 2 end error("entry " .. k) end })
      for _ = 1, 3 do
        local ok, err = pcall(function() return t[bad] end)
        assert(not ok and err:find("entry 2"), err)
      end
      assert.same({ 4, 5 }, t[{ 2, { 2, 3 } }]:tolist())
    end)
  end)

  describe("empty tensors with astronomical dims", function()
    it("are refused when their nonzero sizes multiply past 2^40", function()
      assert.has_error(function() luann.zeros(1 << 62, 1 << 62, 0) end,
        "empty: shape (4611686018427387904,4611686018427387904,0) is too large: its nonzero "
          .. "sizes multiply to 21267647932558653966460912964485513216 (at most 2^40, also "
          .. "for an empty tensor)")
      assert.has_error(function() luann.zeros(0, (1 << 40) + 1) end,
        "empty: shape (0,1099511627777) is too large: its nonzero sizes multiply to "
          .. "1099511627777 (at most 2^40, also for an empty tensor)")
      assert.has_error(function() luann.zeros(1, 0):expand(1 << 50, 0) end,
        "expand: shape (1125899906842624,0) is too large: its nonzero sizes multiply to "
          .. "1125899906842624 (at most 2^40, also for an empty tensor)")
      local a = luann.zeros(1 << 40, 0)
      assert.same({ 1 << 40, 0 }, a:size())
      assert.has_error(function() luann.cat({ a, a }, 1) end,
        "cat: shape (2199023255552,0) is too large: its nonzero sizes multiply to "
          .. "2199023255552 (at most 2^40, also for an empty tensor)")
      assert.same({ 1 << 40, 0 }, luann.cat({ a, a }, 2):size())
    end)

    it("cat adding sizes past 2^63 says so, without signed overflow", function()
      local parts = {}
      local a = luann.zeros(1 << 40, 0)
      for i = 1, 9 do parts[i] = a end
      assert.has_error(function() luann.cat(parts, 1) end,
        "cat: shape (9895604649984,0) is too large: its nonzero sizes multiply to "
          .. "9895604649984 (at most 2^40, also for an empty tensor)")
    end)

    it("losses over an empty batch with 2^40 classes return at once", function()
      survives [[
        local F = luann.nn.functional
        local x, y = luann.zeros(0, 1 << 40), luann.zeros(0):long()
        for _, loss in ipairs { F.cross_entropy, F.nll_loss } do
          for _, reduction in ipairs { "mean", "sum", "none" } do
            local r = loss(x, y, { reduction = reduction })
            if reduction == "mean" then assert(r:item() ~= r:item()) end -- 0/0, as PyTorch
            if reduction == "sum" then assert(r:item() == 0) end
            if reduction == "none" then assert(r:numel() == 0) end
          end
        end
        local w = luann.ones(4)
        assert(F.cross_entropy(luann.zeros(0, 4), y, { weight = w, label_smoothing = 0.1,
          reduction = "sum" }):item() == 0)
      ]]
    end)

    it("tolist refuses to build more than 2^26 tables and says so", function()
      survives [[
        local ok, err = pcall(function() return luann.zeros(1 << 40, 0):tolist() end)
        assert(not ok and err:find("tolist: a tensor of shape (1099511627776,0) needs more than "
          .. "2^26 Lua tables", 1, true), err)
        assert(#luann.zeros(0, 1 << 40):tolist() == 0)
        local r = luann.zeros(3, 0):tolist()
        assert(#r == 3 and #r[1] == 0)
      ]]
    end)

    it("nn.utils and utils.check take no walk along a huge dim", function()
      survives [[
        local utils, check = luann.nn.utils, luann.utils.check
        local a = luann.zeros(1 << 40, 0)
        assert(utils.parameters_to_vector(a):numel() == 0)
        utils.vector_to_parameters(luann.zeros(0), a)
        assert(utils.clip_grad_norm_(a, 1):item() == 0)
        local ok, err = pcall(check.choice, "f", 1, "x", "mode", nil, a)
        assert(not ok and err:find("choices must be a plain list", 1, true), err)
        -- a list read raw: a proxy's __index cannot make it endless
        local endless = setmetatable({}, { __index = function() return luann.ones(1) end })
        local ok2, err2 = pcall(utils.parameters_to_vector, endless)
        assert(not ok2 and err2:find("expected a non-empty list", 1, true), err2)
      ]]
    end)

    it("parameter lists: one tensor, a list, and bad items named", function()
      local p, q = luann.ones(2, 2), luann.full({ 3 }, 2)
      assert.same({ 1, 1, 1, 1, 2, 2, 2 }, luann.nn.utils.parameters_to_vector({ p, q }):tolist())
      assert.same({ 1, 1, 1, 1 }, luann.nn.utils.parameters_to_vector(p):tolist())
      luann.nn.utils.vector_to_parameters(luann.arange(7):float(), { p, q })
      assert.same({ { 0, 1 }, { 2, 3 } }, p:tolist())
      assert.same({ 4, 5, 6 }, q:tolist())
      assert.has_error(function() luann.nn.utils.parameters_to_vector({ p, 3 }) end,
        "parameters_to_vector: bad argument #1 'parameters' (item 2 is number, expected a tensor)")
      assert.has_error(function() luann.nn.utils.parameters_to_vector(7) end,
        "parameters_to_vector: bad argument #1 'parameters' (list of tensors expected, got number)")
    end)
  end)

  describe("values that were wrong", function()
    it("linspace with one step gives start, as PyTorch", function()
      assert.same({ 2 }, luann.linspace(2, 5, 1):tolist())
      assert.same({}, luann.linspace(2, 5, 0):tolist())
      assert.same({ 2, 3.5, 5 }, luann.linspace(2, 5, 3):tolist())
      assert.same({ 5, 4, 3, 2 }, luann.linspace(5, 2, 4):tolist())
      assert.has_error(function() luann.linspace(0, 1, 1 << 41) end,
        "linspace: 2199023255552 steps are too many (at most 2^40)")
    end)

    it("BCELoss has PyTorch's finite gradient where the input saturates", function()
      local p = luann.tensor({ 1, 0, 1, 0, 0.25 }, { dtype = "float64", requires_grad = true })
      local y = luann.tensor({ 1, 0, 0, 1, 1 }, { dtype = "float64" })
      local loss = luann.nn.BCELoss({ reduction = "sum" })(p, y)
      assert.equal(200 + math.log(4), loss:item())
      loss:backward()
      -- (x - y) / max(x (1 - x), 1e-12); the chain rule through the clamped
      -- logs gave nan at 0 and 1
      assert.same({ 0, 0, 1e12, -1e12, -0.75 / 0.1875 }, p.grad:tolist())
    end)

    it("one_hot of the integer limits says which class, without signed overflow", function()
      assert.has_error(function() luann.one_hot(luann.tensor({ math.mininteger })) end,
        "one_hot: class -9223372036854775808 is out of range for 0 classes")
      assert.has_error(function() luann.one_hot(luann.tensor({ 2, math.mininteger }), 3) end,
        "one_hot: class -9223372036854775808 is out of range for 3 classes")
      assert.same({ { 0, 1 }, { 1, 0 } }, luann.one_hot(luann.tensor({ 2, 1 })):tolist())
    end)

    it("tostring prints int64 values exactly", function()
      local s = tostring(luann.tensor({ math.maxinteger, (1 << 53) + 1, math.mininteger }))
      assert.equal("tensor([ 9223372036854775807,     9007199254740993, -9223372036854775808], "
        .. "shape=(3,), dtype=int64)", s)
      assert.equal("tensor(9007199254740993, shape=(), dtype=int64)",
        tostring(luann.tensor((1 << 53) + 1)))
      assert.equal("tensor([255,   0], shape=(2,), dtype=uint8)",
        tostring(luann.tensor({ 255, 0 }, "uint8")))
      assert.equal("tensor([ true, false], shape=(2,), dtype=bool)",
        tostring(luann.tensor({ true, false })))
    end)
  end)
end)
