--- bench/opencl.lua: luann on an OpenCL device beside the CPU.
--   luann bench/opencl.lua [--gemm N] [--elems N] [--steps N] [--device SPEC]
-- prints, for the OpenCL device and the CPU:
--   gemm       float32 C = A @ B at N x N x N (default 4096), GFLOP/s
--   bandwidth  float32 a:add_(b) over N elements (default 256M: 3 x 1 GiB),
--              GB/s counting 12 bytes per element (two reads, one write)
--   mnist step one training step of the MNIST tutorial's 784-128-10 ReLU
--              network (batch 64, cross entropy, SGD lr 0.01) on a batch
--              already on the device, in ms
-- Each figure is the median of a few samples, each timing enough repeats
-- for ~0.2 s; device work is waited for (luann.opencl.synchronize) before
-- the clock is read. Lua has no wall clock, so it is read from
-- `date +%s%N` and the cost of one reading is subtracted.
local luann = require "luann"

local opts = { gemm = 4096, elems = 256 * 1024 * 1024, steps = 50, device = "opencl", samples = 3 }
do
  local i = 1
  while i <= #arg do
    local k = arg[i]:match("^%-%-(.+)$")
    if not k or opts[k] == nil or arg[i + 1] == nil then
      io.stderr:write("usage: luann bench/opencl.lua [--gemm N] [--elems N] [--steps N] [--samples N] [--device SPEC]\n")
      os.exit(2)
    end
    opts[k] = k == "device" and arg[i + 1] or assert(tonumber(arg[i + 1]), k .. " needs a number")
    i = i + 2
  end
end
local DEV = luann.device(opts.device)

local function now()
  if luann.clock then return luann.clock() end
  local p = assert(io.popen("date +%s%N"))
  local ns = assert(tonumber(p:read("l")))
  p:close()
  return ns * 1e-9
end

local overhead = 0
do
  local reads = {}
  for i = 1, 5 do
    local t0 = now()
    reads[i] = now() - t0
  end
  table.sort(reads)
  overhead = reads[3]
end

local function sync(dev)
  if dev ~= "cpu" then luann.opencl.synchronize(dev) end
end

-- Median seconds per call of fn() on dev over opts.samples samples.
local function time_per_call(dev, fn)
  fn()
  sync(dev)
  local reps, elapsed = 1, 0
  while true do -- grow the batch to ~0.05 s, then scale it to ~0.2 s
    local t0 = now()
    for _ = 1, reps do fn() end
    sync(dev)
    elapsed = now() - t0 - overhead
    if elapsed > 0.05 then break end
    reps = reps * 4
  end
  reps = math.max(1, math.ceil(reps * 0.2 / elapsed))
  local times = {}
  for s = 1, opts.samples do
    local t0 = now()
    for _ = 1, reps do fn() end
    sync(dev)
    times[s] = (now() - t0 - overhead) / reps
    collectgarbage("step")
  end
  table.sort(times)
  return times[(#times + 1) // 2]
end

local function gemm(dev)
  local n = opts.gemm
  local a, b = luann.randn(n, n, { device = dev }), luann.randn(n, n, { device = dev })
  local t = time_per_call(dev, function() return luann.matmul(a, b) end)
  return 2 * n * n * n / t * 1e-9
end

local function bandwidth(dev)
  local a = luann.full({ opts.elems }, 1, { dtype = "float32", device = dev })
  local b = luann.full({ opts.elems }, 1e-7, { dtype = "float32", device = dev })
  local t = time_per_call(dev, function() a:add_(b) end)
  a, b = nil, nil
  collectgarbage()
  return 12 * opts.elems / t * 1e-9
end

local function mnist_step(dev)
  local nn, optim = luann.nn, luann.optim
  luann.manual_seed(1)
  local model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 128), nn.ReLU(), nn.Linear(128, 10)):to(dev)
  local criterion = nn.CrossEntropyLoss()
  local optimizer = optim.SGD(model:parameters(), { lr = 0.01 })
  local x = luann.rand(64, 1, 28, 28, { device = dev })
  local y = luann.randint(1, 11, { 64 }, { dtype = "int64", device = dev })
  local t = time_per_call(dev, function()
    optimizer:zero_grad()
    local loss = criterion(model(x), y)
    loss:backward()
    optimizer:step()
  end)
  return t * 1e3
end

local info
for _, d in ipairs(luann.opencl.devices()) do
  if d.device == DEV then info = d end
end
print(string.format("OpenCL device %s: %s (%s, %s), %d compute units, %.1f GiB",
  DEV, info.name, info.platform, info.type, info.compute_units, info.memory / 2 ^ 30))
print(string.format("%-34s %12s %12s", "", DEV, "cpu"))
local rows = {
  { string.format("gemm %d^3 float32 (GFLOP/s)", opts.gemm), gemm },
  { string.format("add_ %dM float32 (GB/s)", opts.elems // (1024 * 1024)), bandwidth },
  { "mnist training step (ms)", mnist_step },
}
for _, r in ipairs(rows) do
  local g = r[2](DEV)
  collectgarbage()
  luann.opencl.empty_cache(DEV)
  local c = r[2]("cpu")
  collectgarbage()
  print(string.format("%-34s %12.2f %12.2f", r[1], g, c))
end
