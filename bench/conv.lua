--- bench/conv.lua: luann's float32 conv2d speed, forward and forward+backward.
--   luann bench/conv.lua THREADS SAMPLES CONFIG...
--   luann bench/conv.lua THREADS -ITERS CONFIG      (ITERS fwd+bwd, untimed)
-- A CONFIG is name=N,C,HW,O,K,PAD,STRIDE: a batch of N inputs of C channels,
-- HW x HW, convolved with O filters K x K (with bias). For each config
-- prints two lines, "name fwd MS" and "name fwdbwd MS": the median over
-- SAMPLES samples of the time of one call, each sample timing a batch of
-- calls lasting ~0.2 s on a monotonic wall clock. fwd runs without
-- recording (no_grad); fwdbwd records, then backward with a fixed output
-- gradient fills the gradients of input, weight and bias (reset to nil
-- after each call, so nothing accumulates). bench/conv.py is the same in
-- PyTorch. With SAMPLES <= 0 it runs -SAMPLES fwd+bwd calls of the
-- first config and prints nothing: bench/conv.sh measures its peak RSS.
local luann = require "luann"

local threads, samples = tonumber(arg[1] or ""), tonumber(arg[2] or "")
if not (threads and samples and arg[3]) then
  io.stderr:write("usage: luann bench/conv.lua THREADS SAMPLES name=N,C,HW,O,K,PAD,STRIDE...\n")
  os.exit(2)
end
luann.set_num_threads(threads)
local now = luann.clock

local function parse(spec)
  local name, rest = spec:match("^([^=]+)=(.*)$")
  local v = {}
  for num in (rest or ""):gmatch("[^,]+") do v[#v + 1] = tonumber(num) end
  if #v ~= 7 then
    io.stderr:write("conv.lua: bad config '" .. spec .. "'\n")
    os.exit(2)
  end
  return {name = name, n = v[1], c = v[2], hw = v[3], o = v[4], k = v[5],
          pad = v[6], stride = v[7]}
end

-- Tensors for one config; grad says whether they require gradients.
local function operands(cfg, grad)
  local opts = {requires_grad = grad}
  local x = luann.randn(cfg.n, cfg.c, cfg.hw, cfg.hw, opts)
  local w = luann.randn(cfg.o, cfg.c, cfg.k, cfg.k, opts)
  local b = luann.randn(cfg.o, opts)
  return x, w, b
end

local function forward_fn(cfg)
  local x, w, b = operands(cfg, false)
  return function()
    local g <close> = luann.no_grad()
    return luann.conv2d(x, w, b, cfg.stride, cfg.pad)
  end
end

local function backward_fn(cfg)
  local x, w, b = operands(cfg, true)
  local dy
  return function()
    local y = luann.conv2d(x, w, b, cfg.stride, cfg.pad)
    dy = dy or luann.randn(table.unpack(y:size()))
    y:backward(dy)
    x.grad, w.grad, b.grad = nil, nil, nil
  end
end

-- median milliseconds per call of f over samples batches of ~0.2 s
local function time_ms(f)
  f() -- warm-up: BLIS setup, packing buffers, the allocator's pool
  local reps = 1
  while true do
    local start = now()
    for _ = 1, reps do f() end
    local elapsed = now() - start
    if elapsed > 0.05 then
      reps = math.max(1, math.ceil(reps * 0.2 / elapsed))
      break
    end
    reps = reps * 4
  end
  local ms = {}
  for s = 1, samples do
    collectgarbage("step")
    local start = now()
    for _ = 1, reps do f() end
    ms[s] = (now() - start) / reps * 1e3
  end
  table.sort(ms)
  return ms[(samples + 1) // 2]
end

if samples <= 0 then
  local f = backward_fn(parse(arg[3]))
  for _ = 1, -samples do f() end
  os.exit(0)
end
for i = 3, #arg do
  local cfg = parse(arg[i])
  print(string.format("%s fwd %.3f", cfg.name, time_ms(forward_fn(cfg))))
  print(string.format("%s fwdbwd %.3f", cfg.name, time_ms(backward_fn(cfg))))
end
