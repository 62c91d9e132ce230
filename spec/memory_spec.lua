-- Tensor memory is visible to the collector: loops of temporaries run flat.
local luann = require "luann"

local function rss_mb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local kb = s:match("VmRSS:%s*(%d+)")
  return kb and tonumber(kb) / 1024
end

describe("luann memory", function()
  it("10,000 iterations of 1 MB temporaries stay under 256 MB", function()
    collectgarbage()
    local start_rss = rss_mb()
    local peak_tensor_bytes = 0
    for i = 1, 10000 do
      local t = luann.zeros(262144) -- 1 MB of float32
      t = t:view(512, 512)
      if i % 100 == 0 then
        peak_tensor_bytes = math.max(peak_tensor_bytes, luann.memory_allocated())
      end
    end
    assert.is_true(peak_tensor_bytes < 256 * 2 ^ 20,
      ("tensor memory reached %.0f MB"):format(peak_tensor_bytes / 2 ^ 20))
    if start_rss then
      local growth = rss_mb() - start_rss
      assert.is_true(growth < 256, ("RSS grew by %.0f MB"):format(growth))
    end
  end)

  it("memory freed by a collection lowers the limit for the garbage that follows", function()
    -- 64 MB alive, then freed: the 1 MB temporaries after it are collected
    -- as if the 64 MB had never been there, not after 64 MB of them
    collectgarbage()
    local base = luann.memory_allocated()
    local big = luann.zeros(16 * 2 ^ 20)
    for _ = 1, 4 do luann.zeros(262144) end
    big = nil
    collectgarbage()
    assert.are.equal(base, luann.memory_allocated())
    local peak = 0
    for _ = 1, 200 do
      luann.zeros(262144)
      peak = math.max(peak, luann.memory_allocated() - base)
    end
    -- the headroom is 8 MB above what is alive
    assert.is_true(peak <= 10 * 2 ^ 20, ("garbage reached %.0f MB"):format(peak / 2 ^ 20))
    assert.is_nil(big)
  end)

  it("<close> frees at once", function()
    collectgarbage()
    collectgarbage("stop")
    local before = luann.memory_allocated()
    do
      local t <close> = luann.zeros(1024, 1024)
      assert.are.equal(before + 4 * 2 ^ 20, luann.memory_allocated())
    end
    assert.are.equal(before, luann.memory_allocated())
    collectgarbage("restart")
  end)

  it("views keep their storage alive after the base is collected", function()
    local v
    do
      local base = luann.arange(10)
      v = base:narrow(1, 3, 2)
    end
    collectgarbage()
    collectgarbage()
    assert.are.same({ 2, 3 }, v:tolist())
  end)
end)
