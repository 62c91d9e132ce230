--- luann.distributed: data-parallel training over MPI (Open MPI), with the
-- names of PyTorch's torch.distributed.
--
--    mpirun -np 2 luann train.lua         (as root: mpirun --allow-run-as-root)
--
--    local dist = require "luann.distributed"
--    dist.init()                           -- from mpirun's environment
--    print(dist.rank, dist.world_size)     -- 1-based rank; dist.mpi_rank is 0-based
--    dist.all_reduce(t, "mean")            -- in place, on every rank
--
-- Ranks are 1-based like everything in luann (dist.mpi_rank is MPI's own).
-- Operations take CPU or OpenCL tensors of any strides; all but contiguous
-- CPU tensors are staged through host memory (Debian's Open MPI has no
-- device support). Each runs as MPI's non-blocking call, polled against a
-- deadline (dist.set_timeout, 300 s by default): a rank that skips a
-- collective makes the others fail with an error naming the operation and
-- the ranks, and the world then ends with MPI_Abort, never a hang. Before
-- each collective the ranks exchange what they are calling (operation,
-- number, dtype, shape): different calls, shapes or dtypes are an error on
-- every rank naming each rank's call.
-- The C side (luann_mpi.so) is built by `make MPI=1`, or by default where
-- pkg-config finds Open MPI; without it init() says so.
-- @module luann.distributed
local luann = require "luann"
local check = require "luann.utils.check"

local dist = { rank = nil, mpi_rank = nil, world_size = nil }
local mpi -- luann_mpi, once init() has loaded it

local DTYPES = { "float32", "float64", "int64", "uint8", "bool" }
local DTYPE_CODE = {}
for i, name in ipairs(DTYPES) do DTYPE_CODE[name] = i end
local MAX_DIMS = 8

--- Whether the MPI module was built (`make MPI=1`).
-- @return boolean
function dist.is_available()
  if mpi then return true end
  return (pcall(require, "luann_mpi"))
end

--- Whether init() has run.
function dist.is_initialized() return mpi ~= nil end

--- Joins the MPI world mpirun started (a single process without mpirun is a
-- world of one). Idempotent.
-- @param opts optional {timeout = seconds}: the deadline of each operation
-- @return rank (1-based), world_size
function dist.init(opts)
  if opts ~= nil and type(opts) ~= "table" then
    check.error("distributed.init: bad argument #1 (table of options expected, got " .. type(opts) .. ")", 2)
  end
  if not mpi then
    local ok, m = pcall(require, "luann_mpi")
    if not ok then
      check.error("distributed.init: luann was built without MPI (luann_mpi.so not found: "
        .. "install Open MPI (libopenmpi-dev) and run make MPI=1)\n" .. tostring(m), 2)
    end
    local r, n = m.init()
    mpi, dist.mpi_rank, dist.rank, dist.world_size = m, r, r + 1, n
  end
  if opts and opts.timeout ~= nil then dist.set_timeout(opts.timeout) end
  return dist.rank, dist.world_size
end

local function world(fname)
  if not mpi then check.error("distributed." .. fname .. ": call distributed.init() first", 3) end
  return mpi
end

--- Sets the deadline (seconds) of every operation started from now on.
function dist.set_timeout(seconds)
  if type(seconds) ~= "number" or not (seconds > 0) then
    check.error("distributed.set_timeout: bad argument #1 (seconds > 0 expected, got " .. tostring(seconds) .. ")", 2)
  end
  world("set_timeout").set_timeout(seconds)
end

--- The deadline of each operation, in seconds.
function dist.get_timeout() return world("get_timeout").get_timeout() end

--- The 1-based rank of this process (torch.distributed's get_rank is 0-based: dist.mpi_rank).
function dist.get_rank() world("get_rank"); return dist.rank end

--- The number of processes in the world.
function dist.get_world_size() world("get_world_size"); return dist.world_size end

-- ---- arguments ------------------------------------------------------------

local function check_tensor(fname, pos, t)
  if not luann.is_tensor(t) then
    check.error(string.format("distributed.%s: bad argument #%d (tensor expected, got %s)",
      fname, pos, type(t)), 3)
  end
end

local function check_rank(fname, pos, r, name)
  if math.type(r) ~= "integer" or r < 1 or r > dist.world_size then
    check.error(string.format("distributed.%s: bad argument #%d '%s' (a rank in 1..%d expected, got %s)",
      fname, pos, name, dist.world_size, tostring(r)), 3)
  end
  return r - 1
end

-- What each collective tells the others first (one all-gather of the same
-- size for every kind, so that mismatched calls still pair up): which
-- operation, its number on this rank, and the tensor's dtype and shape.
local KINDS = { "all_reduce", "reduce", "broadcast", "all_gather", "barrier", "save" }
local KIND_CODE = {}
for i, k in ipairs(KINDS) do KIND_CODE[k] = i end
local HEADER = 4 + MAX_DIMS -- kind, number, dtype, ndim, shape
local collectives = 0

local function describe(h, base)
  local kind = KINDS[h[base + 1]] or "?"
  local text = kind .. " #" .. h[base + 2]
  if kind == "barrier" or kind == "save" then return text end
  local dims = {}
  for d = 1, h[base + 4] do dims[d] = tostring(h[base + 4 + d]) end
  return text .. " of a (" .. table.concat(dims, ",") .. ") " .. (DTYPES[h[base + 3]] or "?") .. " tensor"
end

-- Every rank's header for this collective, gathered; an error on every
-- rank, naming what each rank called, when they differ. The headers'
-- own all-gather runs under the deadline: a rank that never comes makes
-- it time out.
local function agree(fname, t)
  collectives = collectives + 1
  local h = { KIND_CODE[fname], collectives, 0, 0 }
  if t then
    if t:dim() > MAX_DIMS then check.error("distributed." .. fname .. ": more than " .. MAX_DIMS .. " dims", 3) end
    h[3], h[4] = DTYPE_CODE[t.dtype], t:dim()
  end
  for d = 1, MAX_DIMS do h[4 + d] = t and t.shape[d] or 0 end
  local all = luann.zeros(dist.world_size * HEADER, { dtype = "int64" })
  mpi.iall_gather(luann.tensor(h, { dtype = "int64" }), all, fname):wait()
  local flat = all:tolist()
  for i = 1, #flat do
    if flat[i] ~= flat[(i - 1) % HEADER + 1] then
      local parts = {}
      for r = 1, dist.world_size do
        parts[r] = "rank " .. r .. " called " .. describe(flat, (r - 1) * HEADER)
      end
      check.error("distributed." .. fname .. ": the ranks' calls differ: " .. table.concat(parts, ", "), 3)
    end
  end
end

-- A contiguous CPU tensor holding t's values: t itself when it is one, else
-- a copy that finish() writes back (OpenCL tensors, strided views).
local function host_buffer(t)
  if tostring(t.device) == "cpu" and t:is_contiguous() then return t, false end
  return t:to("cpu"):contiguous():clone(), true
end

local function write_back(t, buf, staged)
  if staged then
    local guard <close> = luann.no_grad()
    t:copy_(buf)
  end
end

-- ---- operations -------------------------------------------------------------

local OPS = { sum = true, mean = true, max = true, min = true }

--- t = op over every rank's t, in place on each (op: "sum" (default),
-- "mean", "max" or "min").
-- @param t tensor (same shape and dtype on every rank)
-- @param op the reduction
-- @return t
function dist.all_reduce(t, op)
  world("all_reduce")
  check_tensor("all_reduce", 1, t)
  op = op or "sum"
  if not OPS[op] then
    check.error("distributed.all_reduce: bad argument #2 (sum, mean, max or min expected, got " .. tostring(op) .. ")", 2)
  end
  if op == "mean" and t.dtype ~= "float32" and t.dtype ~= "float64" then
    check.error("distributed.all_reduce: 'mean' needs a floating-point tensor, got " .. t.dtype, 2)
  end
  agree("all_reduce", t)
  local buf, staged = host_buffer(t)
  mpi.iall_reduce(buf, op == "mean" and "sum" or op, "all_reduce"):wait()
  if op == "mean" then
    local guard <close> = luann.no_grad()
    buf:div_(dist.world_size)
  end
  write_back(t, buf, staged)
  return t
end

--- Rank dst's t = op over every rank's t; the others' t are unchanged.
-- @param t tensor
-- @param dst the rank receiving the result (default 1)
-- @param op "sum" (default), "mean", "max" or "min"
-- @return t
function dist.reduce(t, dst, op)
  world("reduce")
  check_tensor("reduce", 1, t)
  local root = check_rank("reduce", 2, dst or 1, "dst")
  op = op or "sum"
  if not OPS[op] then
    check.error("distributed.reduce: bad argument #3 (sum, mean, max or min expected, got " .. tostring(op) .. ")", 2)
  end
  agree("reduce", t)
  local buf, staged = host_buffer(t)
  mpi.ireduce(buf, op == "mean" and "sum" or op, root):wait()
  if root == dist.mpi_rank then
    if op == "mean" then
      local guard <close> = luann.no_grad()
      buf:div_(dist.world_size)
    end
    write_back(t, buf, staged)
  end
  return t
end

--- Every rank's t = rank src's t.
-- @param t tensor
-- @param src the rank sending (default 1)
-- @return t
function dist.broadcast(t, src)
  world("broadcast")
  check_tensor("broadcast", 1, t)
  local root = check_rank("broadcast", 2, src or 1, "src")
  agree("broadcast", t)
  local buf, staged = host_buffer(t)
  mpi.ibroadcast(buf, root, "broadcast"):wait()
  write_back(t, buf, staged)
  return t
end

--- Every rank's t, as a list indexed by rank (new tensors on t's device).
-- @param t tensor
-- @return {t of rank 1, t of rank 2, ...}
function dist.all_gather(t)
  world("all_gather")
  check_tensor("all_gather", 1, t)
  agree("all_gather", t)
  local src = host_buffer(t)
  local shape = { dist.world_size }
  for d = 1, t:dim() do shape[d + 1] = t.shape[d] end
  local all = luann.empty(shape, { dtype = t.dtype })
  mpi.iall_gather(src, all, "all_gather"):wait()
  local out = {}
  for r = 1, dist.world_size do out[r] = all:select(1, r):to(t.device):clone() end
  return out
end

--- Waits until every rank has reached the barrier.
function dist.barrier()
  world("barrier")
  agree("barrier") -- its all-gather is the barrier
end

--- Sends t to rank dst (which calls recv with a tensor of t's shape).
-- @param t tensor
-- @param dst rank
-- @param tag optional integer 0..32767 (default 0)
function dist.send(t, dst, tag)
  world("send")
  check_tensor("send", 1, t)
  local to = check_rank("send", 2, dst, "dst")
  local buf = host_buffer(t)
  mpi.isend(buf, to, tag or 0):wait()
end

--- Receives into t from rank src (its send must have t's size and dtype).
-- @param t tensor, filled in place
-- @param src rank
-- @param tag optional integer (default 0)
-- @return t
function dist.recv(t, src, tag)
  world("recv")
  check_tensor("recv", 1, t)
  local from = check_rank("recv", 2, src, "src")
  local buf, staged = host_buffer(t)
  mpi.irecv(buf, from, tag or 0):wait()
  write_back(t, buf, staged)
  return t
end

--- Saves value to path on rank 1 only (atomically, as luann.save), then
-- waits for it on every rank, so that all may load it afterwards. A
-- DistributedDataParallel model's state_dict is the undecorated model's:
-- the file loads on any number of ranks, or in a single process.
-- @param path file path
-- @param value what luann.save takes
-- @param opts luann.save's options
function dist.save(path, value, opts)
  world("save")
  local ok, err = true, nil
  if dist.rank == 1 then ok, err = pcall(luann.save, path, value, opts) end
  local status = luann.tensor({ ok and 0 or 1 }, { dtype = "int64" })
  agree("save")
  mpi.iall_reduce(status, "max", "save"):wait()
  if not ok then error(err, 2) end
  if status:item() ~= 0 then check.error("distributed.save: rank 1 failed to write " .. tostring(path), 2) end
end

-- For DistributedDataParallel: starts an all-reduce of a contiguous CPU
-- tensor in place, returning its request. It runs on a communicator of its
-- own (no header: the buckets' shapes were checked once), so that a rank
-- elsewhere in the other operations cannot pair with it: that ends in the
-- deadline's error instead.
dist._iall_reduce = function(t, op, what)
  return world("all_reduce").iall_reduce(t, op or "sum", what, true)
end

return dist
