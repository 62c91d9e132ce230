--- data.DataLoader: batches of a dataset, optionally shuffled.
--
--    local loader = data.DataLoader(train, {batch_size = 64, shuffle = true, seed = 1})
--    for images, labels in loader do ... end     -- one pass (an epoch)
--    print(#loader)                              -- batches per epoch
--
-- The loader itself is the iterator of a generic `for` (a new pass starts
-- whenever a loop starts); loader:iter() gives an independent iterator for
-- the rare case of two loops over one loader at once.
--
-- Options: batch_size (1), shuffle (false), drop_last (false: the last
-- batch may be smaller), seed or generator (the shuffling's own random
-- stream: the same order for the same seed, whatever else draws random
-- numbers; without one the global generator, so luann.manual_seed fixes
-- it), collate_fn (turns a list of samples into a batch; default
-- data.default_collate), sampler (an object with # and indices(), the
-- dataset indices of a pass as an int64 tensor: data.DistributedSampler;
-- not with shuffle, the sampler orders).
-- The dataset: anything with `#ds` and `ds:get(i)` (1-based; see
-- data.Dataset for the protocol), a table with PyTorch's `__getitem`
-- instead of get (used, with a hint), or a plain Lua list of samples
-- (data.ListDataset: `{ {x1, y1}, {x2, y2}, ... }` gives batches x, y).
-- A dataset with batch_tensors() (TensorDataset, MNIST) is batched by
-- slicing (in order) or index_select (shuffled) of whole tensors, with no
-- per-sample work (then converted, as MNIST's bytes to floats, when the
-- dataset says how), unless a collate_fn is given: that one always gets the
-- list of samples, as for any other dataset.
local luann = require "luann"
local class = require "luann.utils.class"
local check = require "luann.utils.check"
local collate = require "luann.data.collate"
local ListDataset = require "luann.data.ListDataset"
local warn_once = require "luann.utils.warn_once"

local DataLoader = class.new("DataLoader")
DataLoader.__self_name = "loader" -- for the hint of a '.' call: loader:method()

local KNOWN = { batch_size = true, shuffle = true, drop_last = true, seed = true,
  generator = true, collate_fn = true, sampler = true }

-- The dataset a loader reads: ds itself when it has get, an adapter for
-- PyTorch's __getitem, a ListDataset for a plain list; nil otherwise.
local function as_dataset(ds)
  if type(ds) ~= "table" or not pcall(function() return #ds end) then return nil end
  if type(ds.get) == "function" then return ds end
  if type(ds.__getitem) == "function" then
    local name = class.typename(ds)
    warn_once("getitem:" .. name, string.format("%s defines __getitem, used as get; luann's "
      .. "name for it is get(i), and i is 1-based (1..#dataset)", name))
    return setmetatable({ get = function(_, i) return ds:__getitem(i) end },
      { __len = function() return #ds end })
  end
  if getmetatable(ds) == nil then return ListDataset(ds) end
  return nil
end

--- @param dataset a dataset (anything with # and get(i)), or a plain list of samples
-- @param opts the options above
function DataLoader:__init(dataset, opts)
  local fname = "data.DataLoader"
  local ds = as_dataset(dataset)
  if ds == nil then
    check.error(fname .. ": bad argument #1 (dataset expected: a table with get(i) and __len, "
      .. "or a list of samples; got " .. class.typename(dataset) .. ")", 2)
  end
  dataset = ds
  opts = check.options(fname, 2, opts, 3)
  check.known_options(fname, opts, KNOWN, 3)
  self.dataset = dataset
  self.batch_size = check.integer(fname, 2, opts.batch_size, "batch_size", 1, 1, 3)
  self.shuffle = check.boolean(fname, 2, opts.shuffle, "shuffle", false, 3)
  self.drop_last = check.boolean(fname, 2, opts.drop_last, "drop_last", false, 3)
  if opts.collate_fn ~= nil and type(opts.collate_fn) ~= "function" then
    check.error(fname .. ": bad argument #2 'collate_fn' (function expected, got "
      .. class.typename(opts.collate_fn) .. ")", 2)
  end
  self.collate_fn = opts.collate_fn or collate.default_collate
  local sampler = opts.sampler
  if sampler ~= nil and not (type(sampler) == "table" and type(sampler.indices) == "function") then
    check.error(fname .. ": bad argument #2 'sampler' (sampler with indices() expected, got "
      .. class.typename(sampler) .. ")", 3)
  end
  if sampler ~= nil and self.shuffle then
    check.error(fname .. ": bad argument #2 (shuffle and sampler are exclusive: the sampler orders)", 3)
  end
  self.sampler = sampler
  if opts.seed ~= nil then
    self.generator = luann.Generator(check.integer(fname, 2, opts.seed, "seed", nil, nil, 3))
  else
    self.generator = opts.generator
  end
end

--- Batches per pass.
function DataLoader.__len(self)
  local n = self.sampler and #self.sampler or #self.dataset
  if self.drop_last then return n // self.batch_size end
  return (n + self.batch_size - 1) // self.batch_size
end

--- A random order of 1..n as an int64 tensor.
function DataLoader:permutation(n)
  if self.generator ~= nil then
    return luann.randperm(n, { generator = self.generator })
  end
  return luann.randperm(n)
end

-- Batch `len` samples from position `start` of the order, by whole tensors,
-- each through its convert function if it has one.
local function tensor_batch(ts, convert, perm, start, len)
  local out = {}
  if perm then
    local idx = perm:narrow(1, start, len)
    for k = 1, #ts do out[k] = ts[k]:index_select(1, idx) end
  else
    for k = 1, #ts do out[k] = ts[k]:narrow(1, start, len) end
  end
  if convert then
    for k = 1, #ts do
      if convert[k] then out[k] = convert[k](out[k]) end
    end
  end
  return table.unpack(out, 1, #ts)
end

-- Batch through get() and the collate function.
local function sample_batch(self, order, start, len)
  local samples = {}
  for k = 1, len do
    local i = order and order[start + k - 1] or start + k - 1
    samples[k] = table.pack(self.dataset:get(i))
  end
  local batch = self.collate_fn(samples)
  if type(batch) == "table" and getmetatable(batch) == nil and batch[1] ~= nil then
    return table.unpack(batch, 1, batch.n or #batch)
  end
  return batch
end

--- An independent iterator over one pass: `for x, y in loader:iter() do`.
-- @return an iterator function
function DataLoader:iter()
  local n, bs = #self.dataset, self.batch_size
  local nb = #self
  local perm = self.shuffle and n > 0 and self:permutation(n) or nil
  if self.sampler then perm = self.sampler:indices(); n = perm:numel() end
  -- whole-tensor batches equal default_collate's; another collate_fn sees samples
  local ts, convert
  local batch_tensors = self.dataset.batch_tensors -- optional in the protocol
  if batch_tensors and self.collate_fn == collate.default_collate then
    ts, convert = batch_tensors(self.dataset)
  end
  local order = (perm and not ts) and perm:tolist() or nil
  local b = 0
  return function()
    b = b + 1
    if b > nb then return nil end
    local start = (b - 1) * bs + 1
    local len = math.min(bs, n - start + 1)
    if ts then return tensor_batch(ts, convert, perm, start, len) end
    return sample_batch(self, order, start, len)
  end
end

local function advance(self, first, ...)
  if first == nil then self._pass = nil end
  return first, ...
end

-- `for x, y in loader do`: the generic for calls the loader with the
-- previous first value, nil on the first call, which starts a new pass.
function DataLoader.__call(self, _, previous)
  if previous == nil or self._pass == nil then self._pass = self:iter() end
  return advance(self, self._pass())
end

function DataLoader:__tostring()
  return string.format("DataLoader(%d samples, batch_size=%d, shuffle=%s, drop_last=%s)",
    #self.dataset, self.batch_size, tostring(self.shuffle), tostring(self.drop_last))
end

return DataLoader
