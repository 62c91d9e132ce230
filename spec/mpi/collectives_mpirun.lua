-- luann.distributed's collectives on 2 ranks: `make mpi-test` runs this
-- directory under `mpirun -np 2` (each rank runs every spec in the same
-- order, so the collectives pair up; a failure on one rank makes the other
-- fail at the deadline, not hang). Values are hand-computed from each
-- rank's known inputs.
local luann = require "luann"
local dist = require "luann.distributed"
local helpers = require "spec.helpers"

dist.init({ timeout = 60 })
local F32 = { dtype = "float32" }

-- The rank's own values: {r, -r, 10 r}.
local function mine() return luann.tensor({ dist.rank, -dist.rank, 10 * dist.rank }, F32) end

describe("luann.distributed on 2 ranks", function()
  it("knows its rank (1-based), MPI's rank and the world size", function()
    assert.are.equal(2, dist.world_size)
    assert.are.equal(dist.rank - 1, dist.mpi_rank)
    assert.are.same({ dist.rank, 2 }, { dist.init() })
    assert.are.equal(60, dist.get_timeout())
  end)

  describe("all_reduce", function()
    it("sums, averages, takes the max and the min, in place", function()
      local want = { sum = { 3, -3, 30 }, mean = { 1.5, -1.5, 15 }, max = { 2, -1, 20 }, min = { 1, -2, 10 } }
      for _, op in ipairs({ "sum", "mean", "max", "min" }) do
        local t = mine()
        assert.are.equal(t, dist.all_reduce(t, op))
        assert.are.same(want[op], t:tolist())
      end
      local i = luann.tensor({ dist.rank * 1000000000000 }, { dtype = "int64" })
      assert.are.same({ 3000000000000 }, dist.all_reduce(i):tolist())
    end)

    it("stages strided views through host memory and writes them back", function()
      local base = luann.zeros(3, 2)
      local col = base:select(2, 2) -- stride 2
      col:copy_(mine())
      dist.all_reduce(col)
      assert.are.same({ { 0, 3 }, { 0, -3 }, { 0, 30 } }, base:tolist())
    end)

    it("names every rank's shape when they differ", function()
      local t = luann.zeros(dist.rank, 2)
      assert.are.equal("distributed.all_reduce: the ranks' calls differ: rank 1 called all_reduce #"
        .. "%d of a (1,2) float32 tensor, rank 2 called all_reduce #%d of a (2,2) float32 tensor",
        (helpers.err_of(dist.all_reduce, t):gsub("#%d+", "#%%d")))
      local d = dist.rank == 1 and luann.zeros(2) or luann.zeros(2, { dtype = "float64" })
      assert.truthy(helpers.err_of(dist.all_reduce, d):find("(2) float32 tensor, rank 2 called all_reduce", 1, true))
    end)

    it("checks its arguments", function()
      assert.are.equal("distributed.all_reduce: bad argument #2 (sum, mean, max or min expected, got prod)",
        helpers.err_of(dist.all_reduce, mine(), "prod"))
      assert.are.equal("distributed.all_reduce: bad argument #1 (tensor expected, got number)",
        helpers.err_of(dist.all_reduce, 3))
      assert.are.equal("distributed.all_reduce: 'mean' needs a floating-point tensor, got int64",
        helpers.err_of(dist.all_reduce, luann.zeros(1, { dtype = "int64" }), "mean"))
    end)
  end)

  it("reduce gives the result to one rank only", function()
    local t = dist.reduce(mine(), 2, "sum")
    assert.are.same(dist.rank == 2 and { 3, -3, 30 } or { 1, -1, 10 }, t:tolist())
  end)

  it("broadcast copies one rank's tensor to all", function()
    assert.are.same({ 2, -2, 20 }, dist.broadcast(mine(), 2):tolist())
    assert.are.same({ 1, -1, 10 }, dist.broadcast(mine()):tolist())
    assert.are.equal("distributed.broadcast: bad argument #2 'src' (a rank in 1..2 expected, got 3)",
      helpers.err_of(dist.broadcast, mine(), 3))
  end)

  it("all_gather lists every rank's tensor by rank", function()
    local got = dist.all_gather(mine():view(1, 3))
    assert.are.equal(2, #got)
    assert.are.same({ { 1, -1, 10 } }, got[1]:tolist())
    assert.are.same({ { 2, -2, 20 } }, got[2]:tolist())
  end)

  it("send and recv move a tensor between two ranks", function()
    local other = 3 - dist.rank
    local box = luann.zeros(3)
    if dist.rank == 1 then
      dist.send(mine(), other, 7)
      dist.recv(box, other, 8)
    else
      dist.recv(box, other, 7)
      dist.send(mine(), other, 8)
    end
    assert.are.same(dist.rank == 1 and { 2, -2, 20 } or { 1, -1, 10 }, box:tolist())
  end)

  it("barrier returns on every rank", function()
    dist.barrier()
    dist.barrier()
  end)

  it("save writes on rank 1 only, atomically, and every rank can load the file at once", function()
    local stamp = dist.broadcast(luann.tensor({ math.random(1, 1 << 30) }, { dtype = "int64" })):item()
    local path = (os.getenv("TMPDIR") or "/tmp") .. "/luann-dist-spec-" .. stamp .. ".ckpt"
    dist.save(path, { w = mine(), rank = dist.rank })
    local back = luann.load(path)
    assert.are.same({ 1, -1, 10 }, back.w:tolist())
    assert.are.equal(1, back.rank)
    dist.barrier()
    if dist.rank == 1 then os.remove(path) end
  end)

  describe("OpenCL tensors #opencl", function()
    local have = #luann.opencl.devices() > 0
    it("go through host memory and stay on the device", function()
      if not have then return pending("no OpenCL device") end
      local t = mine():to("opencl")
      dist.all_reduce(t, "mean")
      assert.are.equal("opencl:0", tostring(t.device))
      assert.are.same({ 1.5, -1.5, 15 }, t:to("cpu"):tolist())
      local got = dist.all_gather(mine():to("opencl"))
      assert.are.same({ 2, -2, 20 }, got[2]:to("cpu"):tolist())
      assert.are.same({ 2, -2, 20 }, dist.broadcast(mine():to("opencl"), 2):to("cpu"):tolist())
    end)
  end)
end)
