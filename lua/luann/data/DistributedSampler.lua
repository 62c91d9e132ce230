--- data.DistributedSampler: each rank's share of a dataset, for
-- data-parallel training (PyTorch's torch.utils.data.DistributedSampler).
--
--    local sampler = data.DistributedSampler(train, {seed = 1})  -- ranks from luann.distributed
--    local loader = data.DataLoader(train, {batch_size = 32, sampler = sampler})
--    for epoch = 1, epochs do
--      sampler:set_epoch(epoch)     -- a new shuffle, the same on every rank
--      for x, y in loader do ... end
--    end
--
-- Every rank draws the same permutation (from seed + epoch), pads it by
-- repeating its start until its length divides by the number of ranks (or,
-- with drop_last, cuts it to the largest length that does), and takes the
-- positions rank, rank + n, rank + 2n, ...: the shards are disjoint, cover
-- the dataset, and have equal lengths, so every rank runs the same number
-- of steps. Options: num_replicas and rank (1-based; default from
-- luann.distributed), shuffle (true), seed (0), drop_last (false).
local luann = require "luann"
local class = require "luann.utils.class"
local check = require "luann.utils.check"

local DistributedSampler = class.new("DistributedSampler")

local KNOWN = { num_replicas = true, rank = true, shuffle = true, seed = true, drop_last = true }

--- @param dataset a dataset (anything with #)
-- @param opts the options above
function DistributedSampler:__init(dataset, opts)
  local fname = "data.DistributedSampler"
  local ok, n = pcall(function() return #dataset end)
  if not ok or math.type(n) ~= "integer" then
    check.error(fname .. ": bad argument #1 (dataset expected, got " .. class.typename(dataset) .. ")", 3)
  end
  opts = check.options(fname, 2, opts, 3)
  check.known_options(fname, opts, KNOWN, 3)
  local replicas, rank = opts.num_replicas, opts.rank
  if replicas == nil or rank == nil then
    local dist = require "luann.distributed"
    if not dist.is_initialized() then
      check.error(fname .. ": give num_replicas and rank, or call luann.distributed.init() first", 3)
    end
    replicas, rank = replicas or dist.world_size, rank or dist.rank
  end
  self.num_replicas = check.integer(fname, 2, replicas, "num_replicas", nil, 1, 3)
  self.rank = check.integer(fname, 2, rank, "rank", nil, 1, 3)
  if self.rank > self.num_replicas then
    check.error(string.format("%s: bad argument #2 'rank' (%d is not in 1..%d)", fname, self.rank,
      self.num_replicas), 3)
  end
  self.shuffle = check.boolean(fname, 2, opts.shuffle, "shuffle", true, 3)
  self.seed = check.integer(fname, 2, opts.seed, "seed", 0, nil, 3)
  self.drop_last = check.boolean(fname, 2, opts.drop_last, "drop_last", false, 3)
  self.dataset_size, self.epoch = n, 0
  if self.drop_last and n % self.num_replicas ~= 0 then
    self.num_samples = (n - self.num_replicas) // self.num_replicas + 1
    if n < self.num_replicas then self.num_samples = 0 end
  else
    self.num_samples = (n + self.num_replicas - 1) // self.num_replicas
  end
  self.total_size = self.num_samples * self.num_replicas
end

--- Samples per rank and pass.
function DistributedSampler.__len(self) return self.num_samples end

--- Sets the epoch: the shuffle of the next pass is drawn from seed + epoch.
-- @param epoch integer
function DistributedSampler:set_epoch(epoch)
  self.epoch = check.integer("set_epoch", 1, epoch, "epoch", nil, nil, 2)
end

--- This rank's dataset indices for the current epoch (1-based, int64).
-- @return a tensor of #self indices
function DistributedSampler:indices()
  local n, order = self.dataset_size, nil
  if self.shuffle then
    local g = luann.Generator(self.seed + self.epoch)
    order = luann.randperm(n, { generator = g }):tolist()
  else
    order = {}
    for i = 1, n do order[i] = i end
  end
  local mine = {}
  for k = self.rank, self.total_size, self.num_replicas do
    mine[#mine + 1] = order[(k - 1) % n + 1] -- past n: padding from the start
  end
  if #mine == 0 then return luann.zeros(0, { dtype = "int64" }) end
  return luann.tensor(mine, { dtype = "int64" })
end

function DistributedSampler:__tostring()
  return string.format("DistributedSampler(rank %d of %d, %d samples each)", self.rank,
    self.num_replicas, self.num_samples)
end

return DistributedSampler
