-- nn.DistributedDataParallel on 2 ranks (`make mpi-test`): equivalence with
-- one process on the whole batch, the broadcast at the start, no_sync,
-- state_dict and checkpoints, the overlap of the reductions with backward,
-- and a parameter left without gradient. Each rank computes the
-- one-process reference itself, from the same seed.
local luann = require "luann"
local nn, optim = luann.nn, luann.optim
local dist = require "luann.distributed"

dist.init({ timeout = 60 })

local function net(seed)
  luann.manual_seed(seed)
  return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 4))
end

-- 5 batches of 64 samples, the same on every rank.
local function batches()
  luann.manual_seed(1234)
  local out = {}
  for s = 1, 5 do out[s] = { luann.randn(64, 6), luann.randint(1, 5, { 64 }) } end
  return out
end

local function params_close(a, b, tol)
  for k, v in pairs(a:state_dict()) do
    assert.is_true(luann.allclose(v, b:state_dict()[k], tol, tol), k)
  end
end

describe("nn.DistributedDataParallel on 2 ranks", function()
  it("reaches the parameters of one process with batch 64 after 5 SGD steps at batch 32 each", function()
    local data = batches()
    local ref = net(7)
    local ref_opt = optim.SGD(ref:parameters(), { lr = 0.5, momentum = 0.9 })
    local model = nn.DistributedDataParallel(net(dist.rank == 1 and 7 or 99), { bucket_cap_mb = 0.001 })
    local opt = optim.SGD(model:parameters(), { lr = 0.5, momentum = 0.9 })
    local loss_fn = nn.CrossEntropyLoss()
    for s = 1, 5 do
      local x, y = data[s][1], data[s][2]
      ref_opt:zero_grad()
      loss_fn(ref(x), y):backward()
      ref_opt:step()
      local lo = (dist.rank - 1) * 32 + 1
      opt:zero_grad()
      loss_fn(model(x:narrow(1, lo, 32)), y:narrow(1, lo, 32)):backward()
      opt:step()
    end
    params_close(model, ref, 1e-5)
    -- and the parameters really moved: not equal to the start
    assert.is_false(luann.allclose(net(7)[1].weight, ref[1].weight, 1e-3, 1e-3))
  end)

  it("starts every rank from rank 1's parameters", function()
    local model = nn.DistributedDataParallel(net(dist.rank))
    params_close(model, net(1), 0)
  end)

  it("no_sync accumulates locally; the next backward averages the sum", function()
    local data = batches()
    local ref = net(3)
    local model = nn.DistributedDataParallel(net(3))
    local loss_fn = nn.MSELoss()
    local function mine(x) return x:narrow(1, (dist.rank - 1) * 32 + 1, 32) end
    local function target(x, s) return x:narrow(2, 1, 4) + s end
    -- reference: the mean over ranks of (grad of micro-batch 1 + grad of micro-batch 2)
    for s = 1, 2 do
      for r = 1, 2 do
        local x = data[s][1]:narrow(1, (r - 1) * 32 + 1, 32)
        loss_fn(ref(x), target(x, s)):backward()
      end
    end
    model:no_sync(function()
      local x = mine(data[1][1])
      loss_fn(model(x), target(x, 1)):backward()
    end)
    local local_grad = model.module[1].weight.grad:clone()
    local x2 = mine(data[2][1])
    loss_fn(model(x2), target(x2, 2)):backward()
    local other = dist.all_gather(local_grad)
    assert.is_false(luann.allclose(other[1], other[2], 1e-3, 1e-3)) -- no_sync did not reduce
    for i, p in ipairs(model:parameters()) do
      assert.is_true(luann.allclose(p.grad, ref:parameters()[i].grad / 2, 1e-5, 1e-6), "parameter " .. i)
    end
    -- the to-be-closed form
    do
      local guard <close> = model:no_sync()
      loss_fn(model(data[3][1]:narrow(1, 1, 8)), data[3][1]:narrow(1, 1, 8):narrow(2, 1, 4)):backward()
    end
    assert.is_true(model._ddp.sync)
  end)

  it("has the undecorated model's state_dict, and rank 1's checkpoint loads without DDP", function()
    local plain = net(5)
    local model = nn.DistributedDataParallel(net(5))
    local a, b = model:state_dict(), plain:state_dict()
    for k, v in pairs(b) do assert.is_true(luann.allclose(a[k], v, 0, 0), k) end
    for k in pairs(a) do assert.is_not_nil(b[k], k) end
    local stamp = dist.broadcast(luann.tensor({ math.random(1, 1 << 30) }, { dtype = "int64" })):item()
    local path = (os.getenv("TMPDIR") or "/tmp") .. "/luann-ddp-spec-" .. stamp .. ".ckpt"
    dist.save(path, model:state_dict())
    local fresh = net(77)
    fresh:load_state_dict(luann.load(path))
    params_close(fresh, plain, 0)
    dist.barrier()
    if dist.rank == 1 then os.remove(path) end
  end)

  it("starts the first buckets' reductions before backward has the first layer's gradients", function()
    local events = {}
    local model = nn.DistributedDataParallel(net(2), { bucket_cap_mb = 0.0001,
      trace = function(what, detail) events[#events + 1] = what .. " " .. tostring(detail) end })
    local x = luann.randn(8, 6)
    model(x):sum():backward()
    local first_start, last_grad
    for i, e in ipairs(events) do
      if e:find("^start") and not first_start then first_start = i end
      if e:find("^grad") then last_grad = i end
    end
    assert.truthy(events[1]:find("^grad 3%."), events[1]) -- the last layer's first
    assert.is_true(first_start < last_grad, table.concat(events, ", "))
    assert.are.equal("synced 4", events[#events])
  end)

  it("names the parameters a backward left without gradient", function()
    local Two = nn.Module:extend("Two")
    function Two:__init() self.used, self.unused = nn.Linear(2, 2), nn.Linear(2, 2) end
    function Two:forward(x) return self.used(x) end
    local model = nn.DistributedDataParallel(Two())
    model(luann.randn(3, 2)):sum():backward()
    local ok, err = pcall(model, luann.randn(3, 2))
    assert.is_false(ok)
    assert.truthy(tostring(err):find("nn.DistributedDataParallel: the last backward gave no gradient to "
      .. "unused.bias, unused.weight", 1, true), err)
  end)

  describe("on OpenCL #opencl", function()
    it("averages gradients of parameters on the device, through host memory", function()
      if #luann.opencl.devices() == 0 then return pending("no OpenCL device") end
      luann.manual_seed(dist.rank)
      local lin = nn.Linear(4, 3):to("opencl")
      local model = nn.DistributedDataParallel(lin)
      local x = luann.randn(5, 4):to("opencl")
      model(x):sum():backward()
      -- d(sum)/dW = the column sums of x, averaged over the ranks
      local xs = dist.all_gather(x)
      local want = ((xs[1]:cpu():sum(1) + xs[2]:cpu():sum(1)) / 2):expand(3, 4)
      assert.are.equal("opencl:0", tostring(lin.weight.grad.device))
      assert.is_true(luann.allclose(lin.weight.grad:cpu(), want, 1e-5, 1e-5))
    end)
  end)
end)
