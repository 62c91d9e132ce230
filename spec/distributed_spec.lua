-- luann.distributed's single-process parts: data.DistributedSampler's
-- shards, DataLoader's sampler option (both batching paths), the
-- post-accumulate gradient hooks DistributedDataParallel starts its
-- reductions from, and a rank that skips an all_reduce (two ranks under
-- mpirun, as a child process: the error within the deadline, not a hang).
-- The 2-rank specs of the collectives and DDP are in spec/mpi/ (make
-- mpi-test runs them under mpirun).
local luann = require "luann"
local data = require "luann.data"
local nn = require "luann.nn"
local helpers = require "spec.helpers"

local build = os.getenv("LUANN_BUILD") or "build"

-- The environment of the mpirun children. Under make sanitize-test their
-- LeakSanitizer is off: Open MPI keeps memory in plugins it unloads at
-- MPI_Finalize, where no suppression can name them; luann's own code in
-- these runs is the same as in the in-process specs, which LSan checks.
local MPI_ENV = "OMPI_MCA_btl_vader_single_copy_mechanism=none "
  .. (os.getenv("ASAN_OPTIONS") and ("ASAN_OPTIONS=" .. os.getenv("ASAN_OPTIONS") .. ":detect_leaks=0 ") or "")

-- Every rank's indices for one epoch, as Lua lists.
local function shards(n, replicas, opts)
  local out = {}
  for r = 1, replicas do
    local o = { num_replicas = replicas, rank = r }
    for k, v in pairs(opts or {}) do o[k] = v end
    local s = data.DistributedSampler(data.TensorDataset(luann.zeros(n)), o)
    out[r] = s:indices():tolist()
    assert.are.equal(#s, #out[r])
  end
  return out
end

describe("data.DistributedSampler", function()
  it("deals the dataset out by position, padding from the start (PyTorch's order)", function()
    -- torch: indices += indices[:2]; rank r takes indices[r::3] (0-based)
    assert.are.same({ { 1, 4, 7, 10 }, { 2, 5, 8, 1 }, { 3, 6, 9, 2 } },
      shards(10, 3, { shuffle = false }))
  end)

  it("with drop_last cuts the tail so that the shards are even", function()
    assert.are.same({ { 1, 4, 7 }, { 2, 5, 8 }, { 3, 6, 9 } },
      shards(10, 3, { shuffle = false, drop_last = true }))
    assert.are.same({ { 1, 3 }, { 2, 4 } }, shards(5, 2, { shuffle = false, drop_last = true }))
  end)

  it("shuffles the same way on every rank: disjoint shards covering the dataset", function()
    local s = shards(12, 3, { seed = 5 })
    local seen = {}
    for r = 1, 3 do
      assert.are.equal(4, #s[r])
      for _, i in ipairs(s[r]) do
        assert.is_nil(seen[i])
        seen[i] = true
      end
    end
    for i = 1, 12 do assert.is_true(seen[i]) end
    assert.are_not.same({ 1, 4, 7, 10 }, s[1])
  end)

  it("reshuffles per epoch from the seed, reproducibly", function()
    local ds = data.TensorDataset(luann.zeros(50))
    local a = data.DistributedSampler(ds, { num_replicas = 2, rank = 1, seed = 3 })
    local b = data.DistributedSampler(ds, { num_replicas = 2, rank = 1, seed = 3 })
    local e0 = a:indices():tolist()
    a:set_epoch(1)
    local e1 = a:indices():tolist()
    assert.are_not.same(e0, e1)
    b:set_epoch(1)
    assert.are.same(e1, b:indices():tolist())
  end)

  it("names bad options", function()
    local ds = data.TensorDataset(luann.zeros(4))
    assert.has_error(function() data.DistributedSampler(ds, { num_replicas = 2, rank = 3 }) end,
      "data.DistributedSampler: bad argument #2 'rank' (3 is not in 1..2)")
    assert.has_error(function() data.DistributedSampler(ds, { num_replicas = 2, rank = 1, epoch = 1 }) end)
    assert.has_error(function() data.DistributedSampler(42, { num_replicas = 1, rank = 1 }) end,
      "data.DistributedSampler: bad argument #1 (dataset expected, got number)")
  end)
end)

describe("DataLoader's sampler option", function()
  -- A dataset without batch_tensors(): the per-sample path.
  local Rows = data.Dataset:extend("Rows")
  function Rows:__init(x, y) self.x, self.y = x, y end
  function Rows:__len() return self.x.shape[1] end
  function Rows:get(i) return self.x[i], self.y[i] end

  local x = luann.arange(1, 23):view(11, 2)
  local y = luann.arange(101, 112)

  it("batches the sampler's indices in its order, on the fast path and the per-sample one", function()
    local sampler = data.DistributedSampler(data.TensorDataset(x, y), { num_replicas = 2, rank = 2, seed = 9 })
    local idx = sampler:indices():tolist()
    for _, ds in ipairs({ data.TensorDataset(x, y), Rows(x, y) }) do
      local loader = data.DataLoader(ds, { batch_size = 4, sampler = sampler })
      assert.are.equal(2, #loader) -- 6 samples per rank
      local got = {}
      for bx, by in loader do
        for k, v in ipairs(by:tolist()) do
          got[#got + 1] = v
          assert.are.same({ 2 * (v - 100) - 1, 2 * (v - 100) }, bx:tolist()[k])
        end
      end
      assert.are.same(helpers.map(idx, function(i) return 100 + i end), got)
    end
  end)

  it("follows set_epoch and drop_last", function()
    local sampler = data.DistributedSampler(data.TensorDataset(x), { num_replicas = 2, rank = 1 })
    local loader = data.DataLoader(data.TensorDataset(x), { batch_size = 4, sampler = sampler, drop_last = true })
    assert.are.equal(1, #loader)
    local first = {}
    for bx in loader do first[#first + 1] = bx:tolist() end
    sampler:set_epoch(2)
    local second = {}
    for bx in loader do second[#second + 1] = bx:tolist() end
    assert.are.equal(1, #first)
    assert.are_not.same(first, second)
  end)

  it("names a bad sampler and refuses shuffle with one", function()
    local ds = data.TensorDataset(x)
    assert.has_error(function() data.DataLoader(ds, { sampler = 3 }) end,
      "data.DataLoader: bad argument #2 'sampler' (sampler with indices() expected, got number)")
    local s = data.DistributedSampler(ds, { num_replicas = 1, rank = 1 })
    assert.has_error(function() data.DataLoader(ds, { sampler = s, shuffle = true }) end,
      "data.DataLoader: bad argument #2 (shuffle and sampler are exclusive: the sampler orders)")
  end)
end)

describe("register_post_accumulate_grad_hook", function()
  it("runs once per backward with the whole gradient, before earlier layers' gradients exist", function()
    local w1 = luann.tensor({ 1, 2 }, { dtype = "float32", requires_grad = true })
    local w2 = luann.tensor({ 3, 4 }, { dtype = "float32", requires_grad = true })
    local events = {}
    w2:register_post_accumulate_grad_hook(function(p)
      events[#events + 1] = { "w2", p.grad:tolist(), w1.grad == nil }
    end)
    w1:register_post_accumulate_grad_hook(function(p) events[#events + 1] = { "w1", p.grad:tolist() } end)
    -- loss = sum(w2 * h) + sum(w2), h = w1 * w1: w2 is used twice
    local h = w1 * w1
    local loss = (w2 * h):sum() + w2:sum()
    loss:backward()
    -- d/dw2 = h + 1 = {2, 5}; d/dw1 = 2 * w1 * w2 = {6, 16}
    assert.are.same({ { "w2", { 2, 5 }, true }, { "w1", { 6, 16 } } }, events)
  end)

  it("sees the gradient accumulated over backwards, and can be removed", function()
    local w = luann.tensor({ 1, 1 }, { dtype = "float32", requires_grad = true })
    local seen = {}
    local handle = w:register_post_accumulate_grad_hook(function(p) seen[#seen + 1] = p.grad:tolist() end)
    local function step(k) (w * k):sum():backward() end
    step(2)
    step(3)
    handle.remove()
    step(4)
    assert.are.same({ { 2, 2 }, { 5, 5 } }, seen)
    assert.are.same({ 9, 9 }, w.grad:tolist())
  end)

  it("is for leaves that require grad, and its errors fail the backward", function()
    local w = luann.tensor({ 1 }, { dtype = "float32", requires_grad = true })
    assert.has_error(function() (w * 2):register_post_accumulate_grad_hook(function() end) end,
      "register_post_accumulate_grad_hook: expected a leaf tensor that requires grad")
    w:register_post_accumulate_grad_hook(function() error("no", 0) end)
    assert.are.equal("post-accumulate hook: no", helpers.err_of(function() (w * 2):sum():backward() end))
  end)
end)

describe("luann.distributed", function()
  local dist = luann.distributed
  local have_mpi = dist.is_available() and os.execute("command -v mpirun >/dev/null 2>&1")

  it("needs init before an operation", function()
    assert.has_error(function() dist.barrier() end, "distributed.barrier: call distributed.init() first")
  end)

  -- Runs spec/support/mpi_skip.lua MODE on 2 ranks (rank 2 skips an
  -- all_reduce) under `timeout`: exit status and output.
  local function run_skip(mode)
    local cmd = MPI_ENV .. "timeout 120 mpirun --oversubscribe "
      .. "--allow-run-as-root -np 2 " .. build .. "/luann spec/support/mpi_skip.lua " .. mode .. " 2>&1"
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    local _, _, code = p:close()
    assert.are_not.equal(124, code, "mpirun hung until timeout killed it:\n" .. out)
    assert.are_not.equal(0, code, out)
    return out
  end

  it("names both calls when a rank skips an all_reduce for a barrier", function()
    if not have_mpi then return pending("luann_mpi.so not built or mpirun missing") end
    local out = run_skip("barrier")
    local both = "the ranks' calls differ: rank 1 called all_reduce #2 of a (4) float32 tensor, "
      .. "rank 2 called barrier #2"
    assert.truthy(out:find("distributed.all_reduce: " .. both, 1, true), out)
    assert.truthy(out:find("distributed.barrier: " .. both, 1, true), out)
    assert.falsy(out:find("went on", 1, true), out)
  end)

  it("ends an all_reduce that a rank never joins at the deadline, with MPI_Abort, not a hang", function()
    if not have_mpi then return pending("luann_mpi.so not built or mpirun missing") end
    local out = run_skip("gone") -- rank 2 would sleep 60 s: the abort stops it
    assert.truthy(out:find("luann.distributed: all_reduce (operation 2 on rank 1) timed out after 1 s: "
      .. "not every one of ranks 1-2 joined it", 1, true), out)
    assert.falsy(out:find("went on", 1, true), out)
  end)

  it("trains examples/mnist.lua --distributed on 2 ranks; rank 1's checkpoint loads in one process", function()
    if not have_mpi then return pending("luann_mpi.so not built or mpirun missing") end
    local tmp, remove_all = helpers.temp_paths(".ckpt")
    local path = tmp()
    local p = assert(io.popen(MPI_ENV .. "OMP_NUM_THREADS=1 timeout 300 "
      .. "mpirun --oversubscribe --allow-run-as-root -np 2 " .. build .. "/luann examples/mnist.lua "
      .. "--distributed --epochs 1 --limit 6400 --lr 0.1 --no-progress --save " .. path .. " 2>&1"))
    local out = p:read("a")
    local ok = p:close()
    assert.is_true(ok, out)
    local _, printed = out:gsub("Test accuracy: ", "")
    assert.are.equal(1, printed, out) -- rank 1 alone reports
    local acc = tonumber(out:match("Test accuracy: ([%d.]+)%%"))
    assert.is_true(acc > 40, out) -- 10 classes: chance is 10%
    local sd = luann.load(path)
    local plain = nn.Sequential()
    plain.fc1, plain.fc2 = nn.Linear(784, 128), nn.Linear(128, 10)
    plain:load_state_dict(sd)
    assert.are.same({ 128, 784 }, plain.fc1.weight.shape)
    remove_all()
  end)
end)
