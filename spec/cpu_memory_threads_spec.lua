-- cpu_memory_threads_spec.lua: the CPU's cache of freed blocks (core/cpu_cache.c)
-- and its thread count under load (core/cpu_load.c).
local luann = require "luann"

local build = os.getenv("LUANN_BUILD") or "build"

local function settle()
  collectgarbage()
  collectgarbage()
end

describe("luann.cpu memory", function()
  before_each(function()
    settle()
    luann.cpu.empty_cache()
  end)

  it("counts live bytes by size class and keeps freed blocks for reuse", function()
    -- AddressSanitizer builds keep nothing: a cached block would hide a use after free
    if not luann.cpu.memory().caching then
      local t = luann.empty(1000, 1000)
      t = nil -- luacheck: ignore
      settle()
      assert.are.equal(0, luann.cpu.memory().cached)
      return
    end
    local before = luann.cpu.memory()
    assert.are.equal(0, before.cached)
    local t = luann.empty(1000, 1000) -- 4,000,000 bytes: the 4 MiB class
    local live = luann.cpu.memory()
    assert.are.equal(4194304, live.allocated - before.allocated)
    t = nil -- luacheck: ignore
    settle()
    local freed = luann.cpu.memory()
    assert.are.equal(before.allocated, freed.allocated)
    assert.are.equal(4194304, freed.cached)
    -- 3.9 MB rounds to the same class: it takes the cached block
    local u = luann.empty(975, 1000)
    assert.are.equal(0, luann.cpu.memory().cached)
    assert.are.equal(975, u:size(1))
    u = nil -- luacheck: ignore
    settle()
    luann.cpu.empty_cache()
    assert.are.equal(0, luann.cpu.memory().cached)
  end)

  it("gives a reused block no stale view: new tensors start from what they are told", function()
    local a = luann.full({ 300, 300 }, 7)
    a = nil -- luacheck: ignore
    settle()
    local z = luann.zeros(300, 300)
    assert.are.equal(0, z:abs():sum():item())
    local o = luann.ones(300, 300)
    assert.are.equal(90000, o:sum():item())
  end)

  it("is off with LUANN_CPU_CACHE=0", function()
    local p = assert(io.popen("LUANN_CPU_CACHE=0 " .. build .. "/luann -e "
      .. "'local t = luann.empty(1000, 1000) t = nil collectgarbage() collectgarbage() "
      .. "io.write(luann.cpu.memory().cached, tostring(luann.cpu.memory().caching))'"))
    local out = p:read("a")
    p:close()
    assert.are.equal("0false", out)
  end)
end)

describe("luann.cpu.threads", function()
  local cores = luann.get_num_threads()

  it("is the set count on a machine we have to ourselves, at most", function()
    local n = luann.cpu.threads()
    assert.is_true(n >= 1 and n <= cores)
  end)

  it("drops to one thread while other programs fill every core", function()
    if cores < 2 then return pending("one core: nothing to drop") end
    -- as many busy loops as cores: the others leave less than one core free
    local pids = {}
    for i = 1, cores do
      local p = assert(io.popen("sh -c 'echo $$; exec yes > /dev/null' &"))
      pids[i] = p:read("l")
      p:close()
    end
    local ok, out = pcall(function()
      local p = assert(io.popen(build .. "/luann -e '"
        .. "local a = luann.randn(256, 256) local t = os.time() "
        .. "for i = 1, 400 do a = luann.matmul(a, a):tanh() end io.write(luann.cpu.threads())' 2>&1"))
      local s = p:read("a")
      p:close()
      return s
    end)
    for _, pid in ipairs(pids) do os.execute("kill " .. pid) end
    assert.is_true(ok, out)
    assert.are.equal("1", out)
  end)
end)
