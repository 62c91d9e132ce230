-- bench/distributed.lua: data-parallel training steps over MPI
-- (nn.DistributedDataParallel), for bench/distributed.sh.
--
--   mpirun -np N luann bench/distributed.lua [--model mlp|lenet] [--steps 300]
--     [--batch 64] [--bucket-mb 25] [--trace-bucket-mb 0.05] [--data DIR]
--
-- Every rank runs one thread (luann.set_num_threads(1)). The global batch
-- (--batch, default 64, the tutorial's) is split evenly among the ranks:
-- each step every rank takes its share of the same shuffled batch of
-- preloaded Fashion-MNIST, as bench/mlp.lua's models (MLP 784-128-10 with
-- SGD, LeNet-5 with SGD and momentum). Rank 1 prints one RESULT line:
-- the median and quartiles of the step time (forward, backward with the
-- bucketed all-reduce, optimizer step) after 20 warm-up steps, the median
-- of the exposed communication (from the last gradient computed to the
-- averaged gradients written back), the gradient bytes all-reduced per step,
-- and the median time of one blocking all_reduce of that many bytes alone
-- (the per-message cost on this machine). Then a TRACE of one step with
-- small buckets (--trace-bucket-mb): each event's time from the start of
-- backward, to show that buckets start while backward still computes.
local luann = require "luann"
local nn, optim = luann.nn, luann.optim
local dist = luann.distributed

local o = { model = "mlp", steps = 300, batch = 64, bucket_mb = 25, trace_bucket_mb = 0.05,
  data = "/usr/share/datasets/fashion-mnist" }
local argv = { ... }
for i = 1, #argv, 2 do
  local key = argv[i]:match("^%-%-(.+)$")
  key = key and key:gsub("-", "_")
  if not key or o[key] == nil or argv[i + 1] == nil then
    error("usage: distributed.lua [--model mlp|lenet] [--steps N] [--batch N] [--bucket-mb X] "
      .. "[--trace-bucket-mb X] [--data DIR]", 0)
  end
  o[key] = type(o[key]) == "number" and tonumber(argv[i + 1]) or argv[i + 1]
end

luann.set_num_threads(1)
local rank, world = dist.init()
assert(o.batch % world == 0, "--batch must divide among the ranks")
local share = o.batch // world

local images = luann.read_idx(o.data .. "/train-images-idx3-ubyte.gz")
local labels = luann.read_idx(o.data .. "/train-labels-idx1-ubyte.gz")
local n = images:size(1)
local x = images:float():div_(255):view(n, 1, 28, 28)
local y = labels:long():add_(1)

local here = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "bench/"
local function make_model()
  luann.manual_seed(1)
  if o.model == "lenet" then
    local m = dofile(here .. "../examples/lenet.lua")()
    return m, function(ps) return optim.SGD(ps, { lr = 0.01, momentum = 0.9 }) end
  end
  local m = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 128), nn.ReLU(), nn.Linear(128, 10))
  return m, function(ps) return optim.SGD(ps, { lr = 0.01 }) end
end

local function median(xs, q)
  local s = table.move(xs, 1, #xs, 1, {})
  table.sort(s)
  return s[math.max(1, math.floor((q or 0.5) * #s + 0.5))]
end

-- ---- timed steps ---------------------------------------------------------------
local clock = luann.clock
local last_grad, synced = 0, 0
local net, make_opt = make_model()
local model = nn.DistributedDataParallel(net, { bucket_cap_mb = o.bucket_mb,
  trace = function(what)
    if what == "grad" then last_grad = clock() elseif what == "synced" then synced = clock() end
  end })
local optimizer = make_opt(model:parameters())
local criterion = nn.CrossEntropyLoss()
local grad_bytes = 0
for _, p in ipairs(model:parameters()) do grad_bytes = grad_bytes + 4 * p:numel() end

luann.manual_seed(7) -- the same batches on every rank
local perm = luann.randperm(n)
local step_ms, exposed_ms = {}, {}
local warmup = 20
for s = 1, warmup + o.steps do
  local first = ((s - 1) * o.batch) % (n - o.batch) + 1 + (rank - 1) * share
  local idx = perm:narrow(1, first, share)
  local t0 = clock()
  optimizer:zero_grad()
  criterion(model(x:index_select(1, idx)), y:index_select(1, idx)):backward()
  optimizer:step()
  local t1 = clock()
  if s > warmup then
    step_ms[#step_ms + 1] = (t1 - t0) * 1e3
    exposed_ms[#exposed_ms + 1] = (synced - last_grad) * 1e3
  end
end

-- one all_reduce of the gradient's bytes alone
local buf = luann.zeros(grad_bytes // 4)
local reduce_ms = {}
for k = 1, 120 do
  dist.barrier()
  local t0 = clock()
  dist.all_reduce(buf)
  if k > 20 then reduce_ms[#reduce_ms + 1] = (clock() - t0) * 1e3 end
end

if rank == 1 then
  print(string.format("RESULT model=%s ranks=%d batch_per_rank=%d steps=%d step_ms_median=%.3f "
    .. "step_ms_q1=%.3f step_ms_q3=%.3f exposed_comm_ms_median=%.3f grad_bytes=%d allreduce_ms_median=%.3f",
    o.model, world, share, o.steps, median(step_ms), median(step_ms, 0.25), median(step_ms, 0.75),
    median(exposed_ms), grad_bytes, median(reduce_ms)))
end

-- ---- the order of events in one step, with small buckets ---------------------
local events = {}
local t_backward
local traced = nn.DistributedDataParallel((make_model()), { bucket_cap_mb = o.trace_bucket_mb,
  trace = function(what, detail)
    events[#events + 1] = string.format("%+.3f ms %s %s", (clock() - t_backward) * 1e3, what, tostring(detail))
  end })
local idx = perm:narrow(1, 1 + (rank - 1) * share, share)
local loss = criterion(traced(x:index_select(1, idx)), y:index_select(1, idx))
t_backward = clock()
loss:backward()
events[#events + 1] = string.format("%+.3f ms backward returned", (clock() - t_backward) * 1e3)
if rank == 1 then
  print(string.format("TRACE model=%s ranks=%d bucket_cap_mb=%g (times from the start of backward, rank 1):",
    o.model, world, o.trace_bucket_mb))
  for _, e in ipairs(events) do print("  " .. e) end
end
