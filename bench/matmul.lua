--- bench/matmul.lua: luann's float32 matmul speed through the Lua API.
--   luann bench/matmul.lua M K N [THREADS [SAMPLES]]
-- prints the median GFLOP/s over SAMPLES timed samples of C = A @ B
-- (A is MxK, B is KxN, contiguous); each sample times a batch of products
-- lasting ~0.2 s on a monotonic wall clock (luann.clock, or luasystem's).
local luann = require "luann"

local m, k, n = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3])
local threads, samples = tonumber(arg[4] or ""), tonumber(arg[5] or "7")
if not (m and k and n) then
  io.stderr:write("usage: luann bench/matmul.lua M K N [THREADS [SAMPLES]]\n")
  os.exit(2)
end
if threads then luann.set_num_threads(threads) end

local ok, system = pcall(require, "system")
local now = luann.clock or (ok and type(system) == "table" and system.monotime)
if not now then
  io.stderr:write("matmul.lua: needs a wall clock (luann.clock or luasystem)\n")
  os.exit(1)
end

local a = luann.randn(m, k)
local b = luann.randn(k, n)
local flops = 2 * m * n * k
local c = luann.matmul(a, b) -- warm-up: BLIS setup and packing buffers

-- products per sample: grow the batch until it takes ~0.05 s, then scale
-- it to ~0.2 s
local reps = 1
while true do
  local start = now()
  for _ = 1, reps do c = luann.matmul(a, b) end
  local elapsed = now() - start
  if elapsed > 0.05 then
    reps = math.max(1, math.ceil(reps * 0.2 / elapsed))
    break
  end
  reps = reps * 4
end

local rates = {}
for s = 1, samples do
  local start = now()
  for _ = 1, reps do c = luann.matmul(a, b) end
  local elapsed = now() - start
  rates[s] = flops * reps / elapsed * 1e-9
  c = nil
  collectgarbage("step")
end
table.sort(rates)
print(string.format("%.2f", rates[(samples + 1) // 2]))
