--- nn.DistributedDataParallel: trains one model on many ranks (MPI), each
-- on its own share of the batch, as PyTorch's DDP does.
--
--    local dist = require "luann.distributed"
--    dist.init()
--    local model = nn.DistributedDataParallel(Net())
--    local opt = optim.SGD(model:parameters(), {lr = 0.1})
--    ... loss(model(x), y):backward(); opt:step()   -- gradients averaged
--
-- At construction the parameters and buffers are broadcast from rank 1, so
-- every rank starts from the same model. During backward each parameter's
-- gradient is copied into a bucket (about bucket_cap_mb of gradients, in
-- the reverse order of the parameters, roughly the order backward produces
-- them) as soon as it is whole (a post-accumulate gradient hook); a full
-- bucket starts a non-blocking all-reduce (MPI_Iallreduce) at once, while
-- backward goes on with earlier layers. Buckets start in order on every
-- rank; after the last one starts, backward waits for all and writes the
-- averaged gradients back, so .grad holds the mean over ranks when
-- backward returns. Every parameter must get a gradient in each backward
-- (as PyTorch's default); the next forward names any that did not.
-- `model:no_sync(fn)` (or `local g <close> = model:no_sync()`) skips the
-- reduction, for gradient accumulation: the next backward outside reduces
-- the accumulated sum. state_dict and load_state_dict are the wrapped
-- model's, with the same keys, so checkpoints load without DDP.
-- Options: bucket_cap_mb (25), broadcast_buffers (true: rank 1's buffers,
-- e.g. BatchNorm's running statistics, before each forward), trace (a
-- function(event, detail) told "grad" (a parameter's name), "start"
-- (a bucket's number) and "synced" (the number of buckets), to show how the
-- reduction overlaps backward).
local luann = require "luann"
local Module = require "luann.nn.Module"
local class = require "luann.utils.class"
local check = require "luann.utils.check"

local DDP = Module:extend("DistributedDataParallel")

-- Buckets of parameters in reverse order, each at most cap bytes (one
-- parameter larger than cap is a bucket of its own) and of one dtype.
local function make_buckets(named, cap)
  local buckets, slot = {}, {}
  local b
  for i = #named, 1, -1 do
    local name, p = named[i][1], named[i][2]
    local bytes = p:numel() * (p.dtype == "float64" and 8 or 4)
    if not b or b.dtype ~= p.dtype or (b.bytes + bytes > cap and b.count > 0) then
      b = { dtype = p.dtype, bytes = 0, count = 0, numel = 0, params = {}, index = #buckets + 1 }
      buckets[#buckets + 1] = b
    end
    b.count = b.count + 1
    b.params[b.count] = p
    slot[p] = { bucket = b, offset = b.numel + 1, numel = p:numel(), name = name }
    b.numel = b.numel + p:numel()
    b.bytes = b.bytes + bytes
  end
  for _, bk in ipairs(buckets) do
    bk.flat = luann.zeros(bk.numel, { dtype = bk.dtype })
    bk.ready = 0
  end
  return buckets, slot
end

--- @param module the model to train (an nn.Module)
-- @param opts optional {bucket_cap_mb = 25, broadcast_buffers = true, trace = fn}
function DDP:__init(module, opts)
  local fname = "nn.DistributedDataParallel"
  if not Module.is_module(module) then
    check.error(fname .. ": bad argument #1 (nn.Module expected, got " .. class.typename(module) .. ")", 3)
  end
  opts = check.options(fname, 2, opts, 3)
  check.known_options(fname, opts, { bucket_cap_mb = true, broadcast_buffers = true, trace = true }, 3)
  local cap = check.number(fname, 2, opts.bucket_cap_mb, "bucket_cap_mb", 25, 1e-6, nil, 3)
  self.broadcast_buffers = check.boolean(fname, 2, opts.broadcast_buffers, "broadcast_buffers", true, 3)
  if opts.trace ~= nil and type(opts.trace) ~= "function" then
    check.error(fname .. ": bad argument #2 'trace' (function expected, got " .. class.typename(opts.trace) .. ")", 3)
  end
  local dist = require "luann.distributed"
  dist.init()
  self.module = module
  local named = {}
  for name, p in module:named_parameters() do
    if p.requires_grad then named[#named + 1] = { name, p } end
  end
  local n = luann.tensor({ #named }, { dtype = "int64" })
  -- the same count everywhere, or the broadcasts below would pair wrongly
  for _, e in ipairs(dist.all_gather(n)) do
    if e:item() ~= #named then
      check.error(fname .. ": the ranks' models differ: " .. #named .. " parameters on rank "
        .. dist.rank .. ", " .. e:item() .. " on another", 3)
    end
  end
  for _, e in ipairs(named) do dist.broadcast(e[2], 1) end
  for _, t in ipairs(module:buffers()) do dist.broadcast(t, 1) end
  local buckets, slot = make_buckets(named, cap * 1024 * 1024)
  self._ddp = { dist = dist, buckets = buckets, slot = slot, next = 1, sync = true,
    trace = opts.trace, handles = {} }
  local state = self._ddp
  for _, e in ipairs(named) do
    local p = e[2] -- the hook's argument is another Lua value of the same tensor
    local h = p:register_post_accumulate_grad_hook(function() DDP._grad_ready(state, p) end)
    state.handles[#state.handles + 1] = h
  end
end

-- After the last bucket started: waits for every reduction and writes the
-- mean back into the gradients.
local function finish(state)
  local world = state.dist.world_size
  local guard <close> = luann.no_grad()
  for _, b in ipairs(state.buckets) do
    b.request:wait()
    b.request = nil
    b.flat:div_(world)
    for _, p in ipairs(b.params) do
      local s = state.slot[p]
      p.grad:copy_(b.flat:narrow(1, s.offset, s.numel):view(p.shape))
      s.got = false
    end
    b.ready = 0
  end
  state.next = 1
  if state.trace then state.trace("synced", #state.buckets) end
end

-- Starts the buckets that are full, in order (the same on every rank).
local function start_ready(state)
  local b = state.buckets[state.next]
  while b and b.ready == b.count do
    b.request = state.dist._iall_reduce(b.flat, "sum", "all_reduce of gradient bucket " .. b.index)
    if state.trace then state.trace("start", b.index) end
    state.next = state.next + 1
    b = state.buckets[state.next]
  end
  if state.next > #state.buckets then finish(state) end
end

-- The post-accumulate hook: p.grad is whole for this backward.
function DDP._grad_ready(state, p)
  if not state.sync then return end
  local s = state.slot[p]
  if state.trace then state.trace("grad", s.name) end
  do
    local guard <close> = luann.no_grad()
    s.bucket.flat:narrow(1, s.offset, s.numel):copy_(p.grad:reshape(-1))
  end
  s.got = true
  s.bucket.ready = s.bucket.ready + 1
  start_ready(state)
end

-- An error naming the parameters the last backward gave no gradient.
local function check_last_backward(state)
  local pending = state.next > 1
  for _, b in ipairs(state.buckets) do pending = pending or b.ready > 0 end
  if not pending then return end
  local missing = {}
  for _, b in ipairs(state.buckets) do
    for _, p in ipairs(b.params) do
      if not state.slot[p].got then missing[#missing + 1] = state.slot[p].name end
    end
  end
  check.error("nn.DistributedDataParallel: the last backward gave no gradient to "
    .. table.concat(missing, ", ") .. " (every parameter needs one on every rank in each backward)", 3)
end

--- Runs the wrapped model (after broadcasting rank 1's buffers).
function DDP:forward(...)
  local state = self._ddp
  check_last_backward(state)
  if self.broadcast_buffers then
    for _, t in ipairs(self.module:buffers()) do state.dist.broadcast(t, 1) end
  end
  return self.module(...)
end

--- Runs fn (or the scope of the returned to-be-closed value) without
-- reducing gradients: they accumulate locally until a backward outside.
-- @param fn optional function
-- @return a to-be-closed value when fn is nil
function DDP:no_sync(fn)
  local state = self._ddp
  local previous = state.sync
  state.sync = false
  if fn == nil then
    return setmetatable({}, { __close = function() state.sync = previous end })
  end
  local ok, err = pcall(fn)
  state.sync = previous
  if not ok then error(err, 0) end
end

--- The wrapped model's state_dict (the same keys: it loads without DDP).
function DDP:state_dict(keep_vars) return self.module:state_dict(keep_vars) end

--- Loads into the wrapped model.
function DDP:load_state_dict(sd, strict) return self.module:load_state_dict(sd, strict) end

function DDP:__tostring()
  return "DistributedDataParallel(" .. tostring(self.module) .. ")"
end

return DDP
