-- luann.data and luann.utils: datasets, the DataLoader (order, batches,
-- reproducible shuffling, both batching paths), the MNIST readers on small
-- IDX files written here, and the progress bar's output.
local luann = require "luann"
local data = require "luann.data"
local utils = require "luann.utils"

local function column(t) return t:tolist() end

-- A dataset that gives samples one by one (no batch fast path).
local Squares = data.Dataset:extend("Squares")
function Squares:__init(n) self.n = n end
function Squares:__len() return self.n end
function Squares:get(i)
  i = self:check_index(i)
  return luann.tensor({ i, -i }), i * i, { name = "s" .. i, w = 0.5 }
end

-- The first elements of every batch of a pass.
local function order_of(loader)
  local seen = {}
  for x in loader do
    for _, v in ipairs(x:tolist()) do seen[#seen + 1] = type(v) == "table" and v[1] or v end
  end
  return seen
end

local function write_idx(path, magic_type, dims, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(string.pack(">I4", 0x800 + magic_type))
  for _, d in ipairs(dims) do f:write(string.pack(">I4", d)) end
  f:write(string.char(table.unpack(bytes)))
  f:close()
end

describe("luann.data", function()
  describe("TensorDataset", function()
    it("gives the slices of its tensors", function()
      local ds = data.TensorDataset(luann.arange(1, 7):view(3, 2), luann.tensor({ 10, 20, 30 }))
      assert.are.equal(3, #ds)
      local x, y = ds:get(2)
      assert.are.same({ 3, 4 }, x:tolist())
      assert.are.equal(20, y:item())
      local pair = ds[3]
      assert.are.same({ 5, 6 }, pair[1]:tolist())
      assert.has_error(function() ds:get(4) end, "TensorDataset: index 4 out of range for a dataset of 3")
    end)

    it("checks that the tensors agree along dim 1", function()
      assert.has_error(function() data.TensorDataset(luann.zeros(3, 2), luann.zeros(4)) end,
        "data.TensorDataset: size mismatch between tensors: (3,2) and (4) along dim 1")
      assert.has_error(function() data.TensorDataset(luann.zeros(3), 5) end,
        "data.TensorDataset: bad argument #2 (tensor expected, got number)")
    end)
  end)

  describe("DataLoader", function()
    local ds = data.TensorDataset(luann.arange(1, 11), luann.arange(1, 11) * 10)

    it("batches in order, the last batch smaller", function()
      local loader = data.DataLoader(ds, { batch_size = 4 })
      assert.are.equal(3, #loader)
      local xs, ys = {}, {}
      for x, y in loader do
        xs[#xs + 1] = column(x)
        ys[#ys + 1] = column(y)
      end
      assert.are.same({ { 1, 2, 3, 4 }, { 5, 6, 7, 8 }, { 9, 10 } }, xs)
      assert.are.same({ 90, 100 }, ys[3])
    end)

    it("drops the last incomplete batch with drop_last", function()
      local loader = data.DataLoader(ds, { batch_size = 4, drop_last = true })
      assert.are.equal(2, #loader)
      assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8 }, order_of(loader))
    end)

    it("starts a new pass at each loop, also after a break", function()
      local loader = data.DataLoader(ds, { batch_size = 3 })
      for x in loader do
        assert.are.same({ 1, 2, 3 }, column(x))
        break
      end
      assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, order_of(loader))
      assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, order_of(loader:iter()))
    end)

    it("shuffles reproducibly for a seed, differently each epoch", function()
      local a = data.DataLoader(ds, { batch_size = 3, shuffle = true, seed = 42 })
      local b = data.DataLoader(ds, { batch_size = 3, shuffle = true, seed = 42 })
      local a1, a2 = order_of(a), order_of(a)
      assert.are.same(a1, order_of(b))
      assert.are.same(a2, order_of(b))
      assert.are_not.same(a1, a2)
      local sorted = table.move(a1, 1, #a1, 1, {})
      table.sort(sorted)
      assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, sorted)
      assert.are_not.same(a1, order_of(data.DataLoader(ds, { batch_size = 3, shuffle = true, seed = 7 })))
      -- labels follow their samples
      for x, y in a do assert.are.same((x * 10):tolist(), y:tolist()) end
    end)

    it("follows luann.manual_seed without a seed of its own", function()
      local loader = data.DataLoader(ds, { batch_size = 5, shuffle = true })
      luann.manual_seed(5)
      local first = order_of(loader)
      luann.manual_seed(5)
      assert.are.same(first, order_of(loader))
    end)

    it("collates samples given one by one, in the same order as the fast path", function()
      local slow = data.DataLoader(Squares(10), { batch_size = 4, shuffle = true, seed = 3 })
      local fast = data.DataLoader(ds, { batch_size = 4, shuffle = true, seed = 3 })
      assert.are.same(order_of(fast), order_of(slow))
      local x, sq, meta = slow:iter()()
      assert.are.same({ 4, 2 }, x.shape)
      assert.are.equal("int64", sq.dtype)
      for i, row in ipairs(x:tolist()) do assert.are.equal(row[1] ^ 2, sq:tolist()[i]) end
      assert.are.equal(4, #meta.name)
      assert.are.equal("float64", meta.w.dtype)
    end)

    it("takes a collate_fn", function()
      local loader = data.DataLoader(Squares(5), { batch_size = 2, collate_fn = function(samples)
        local s = 0
        for _, sample in ipairs(samples) do s = s + sample[2] end
        return s
      end })
      local sums = {}
      for s in loader do sums[#sums + 1] = s end
      assert.are.same({ 5, 25, 25 }, sums)
    end)

    it("calls a collate_fn on a TensorDataset too, with the samples of the slow path", function()
      local seen = {}
      local loader = data.DataLoader(ds, { batch_size = 4, collate_fn = function(samples)
        seen[#seen + 1] = #samples
        local xs = {}
        for i, sample in ipairs(samples) do
          assert.are.equal(2, sample.n)
          assert.are.equal(sample[1]:item() * 10, sample[2]:item())
          xs[i] = sample[1]:item()
        end
        return { xs, "custom" } -- a list: the loop gets its entries
      end })
      local batches, tags = {}, {}
      for xs, tag in loader do batches[#batches + 1] = xs; tags[#tags + 1] = tag end
      assert.are.same({ 4, 4, 2 }, seen)
      assert.are.same({ { 1, 2, 3, 4 }, { 5, 6, 7, 8 }, { 9, 10 } }, batches)
      assert.are.same({ "custom", "custom", "custom" }, tags)
      -- shuffled: the same order as without a collate_fn, for the same seed
      local plain = order_of(data.DataLoader(ds, { batch_size = 3, shuffle = true, seed = 9 }))
      local custom = data.DataLoader(ds, { batch_size = 3, shuffle = true, seed = 9,
        collate_fn = function(samples)
          local out = {}
          for i, s in ipairs(samples) do out[i] = s[1] end
          return luann.stack(out, 1)
        end })
      assert.are.same(plain, order_of(custom))
    end)

    it("checks its options", function()
      assert.has_error(function() data.DataLoader(ds, { batch_size = 0 }) end,
        "data.DataLoader: bad argument #2 'batch_size' (must be >= 1, got 0)")
      assert.has_error(function() data.DataLoader(ds, { batchsize = 2 }) end,
        "data.DataLoader: unknown option 'batchsize' (known: batch_size, collate_fn, drop_last, generator, sampler, seed, shuffle)")
      assert.has_error(function() data.DataLoader(5) end, "data.DataLoader: bad argument #1 (dataset expected: a table with get(i) and __len, "
        .. "or a list of samples; got number)")
    end)
  end)

  describe("Subset", function()
    it("picks samples and keeps the fast path", function()
      local ds = data.TensorDataset(luann.arange(1, 11))
      local sub = data.Subset(ds, { 5, 1, 9 })
      assert.are.equal(3, #sub)
      assert.are.equal(9, sub:get(3):item())
      assert.are.same({ 5, 1, 9 }, order_of(data.DataLoader(sub, { batch_size = 2 })))
      assert.are.same({ 1, 2, 3, 4 }, order_of(data.DataLoader(data.Subset(ds, 4), { batch_size = 3 })))
      assert.has_error(function() data.Subset(ds, { 11 }) end,
        "data.Subset: index 11 at position 1 out of range for a dataset of 10")
    end)
  end)

  describe("datasets", function()
    local root
    setup(function()
      root = os.tmpname()
      os.remove(root)
      os.execute("mkdir -p " .. root .. "/MNIST/raw")
      local pixels = {}
      for i = 1, 3 * 2 * 2 do pixels[i] = (i * 20) % 256 end
      write_idx(root .. "/MNIST/raw/train-images-idx3-ubyte", 3, { 3, 2, 2 }, pixels)
      write_idx(root .. "/MNIST/raw/train-labels-idx1-ubyte", 1, { 3 }, { 7, 0, 9 })
      write_idx(root .. "/t10k-images-idx3-ubyte", 3, { 1, 2, 2 }, { 0, 255, 51, 102 })
      write_idx(root .. "/t10k-labels-idx1-ubyte", 1, { 1 }, { 4 })
      os.execute("gzip " .. root .. "/t10k-images-idx3-ubyte")
    end)
    teardown(function() os.execute("rm -rf " .. root) end)

    it("MNIST reads images in [0,1] and 1-based labels", function()
      local train = data.datasets.MNIST(root)
      assert.are.equal(3, #train)
      local x, y = train:get(1)
      assert.are.same({ 1, 2, 2 }, x.shape)
      assert.are.equal("float32", x.dtype)
      local px = x:reshape(-1):tolist()
      for i = 1, 4 do assert.is_true(math.abs(px[i] - (i * 20) / 255) < 1e-6) end
      assert.are.equal(8, y:item())
      assert.are.same({ 8, 1, 10 }, train.targets:tolist())
      assert.are.equal("uint8", train.data.dtype)
      assert.are.equal("7 - seven", train.classes[y:item()])
      local test = data.datasets.MNIST(root, { train = false })
      local tx, ty = test:get(1)
      assert.are.same({ 0, 1, 0.2, 0.4 }, tx:reshape(-1):double():mul_(1e6):round():div_(1e6):tolist())
      assert.are.equal(5, ty:item())
    end)

    it("batches through the fast path, and through transforms", function()
      local train = data.datasets.MNIST(root)
      local x, y = data.DataLoader(train, { batch_size = 2 }):iter()()
      assert.are.same({ 2, 1, 2, 2 }, x.shape)
      assert.are.same({ 8, 1 }, y:tolist())
      -- the bytes stay bytes; each batch is converted as get converts a sample
      assert.are.equal("uint8", train.tensors[1].dtype)
      assert.are.equal("float32", x.dtype)
      assert.are.same(train:get(2):tolist(), x[2]:tolist())
      local px = x[1]:reshape(-1):tolist()
      for i = 1, 4 do assert.are.equal(px[i], luann.tensor((i * 20) / 255, { dtype = "float32" }):item()) end
      -- shuffled, through a Subset and a ConcatDataset of two MNISTs
      local both = data.ConcatDataset({ data.Subset(train, { 3, 1 }), train })
      assert.is_not_nil(both:batch_tensors())
      local seen = 0
      for bx, by in data.DataLoader(both, { batch_size = 5, shuffle = true, seed = 3 }) do
        assert.are.equal("float32", bx.dtype)
        for i = 1, by:size(1) do
          local k = ({ [8] = 1, [1] = 2, [10] = 3 })[by[i]]
          assert.are.same(train:get(k):tolist(), bx[i]:tolist())
          seen = seen + 1
        end
      end
      assert.are.equal(5, seen)
      local flipped = data.datasets.MNIST(root, { transform = function(img) return 1 - img end })
      assert.is_nil(flipped:batch_tensors())
      local fx = data.DataLoader(flipped, { batch_size = 2 }):iter()()
      assert.is_true(luann.allclose(fx, 1 - x))
    end)

    it("calls a collate_fn on the fast path (MNIST without transforms)", function()
      local train = data.datasets.MNIST(root)
      local loader = data.DataLoader(train, { batch_size = 2, collate_fn = function(samples)
        local labels = {}
        for i, s in ipairs(samples) do labels[i] = s[2]:item() end
        return { labels }
      end })
      local got = {}
      for labels in loader do got[#got + 1] = labels end
      assert.are.same({ { 8, 1 }, { 10 } }, got)
    end)

    it("says which files are missing", function()
      local ok, err = pcall(data.datasets.MNIST, root .. "/nothing")
      assert.is_false(ok)
      assert.matches("datasets.MNIST: dataset not found: no train%-images%-idx3%-ubyte or " ..
        "train%-images%-idx3%-ubyte.gz in .*/nothing %(nor .*/nothing/MNIST/raw%); pass {download = true} to fetch it", err)
      assert.has_error(function() data.datasets.MNIST(root, { train = 1 }) end,
        "datasets.MNIST: bad argument #2 'train' (boolean expected, got number)")
    end)

    it("downloads missing files with curl or wget (here from a file:// mirror)", function()
      local mirror = root .. "/mirror"
      os.execute("mkdir -p " .. mirror)
      for _, name in ipairs({ "train-images-idx3-ubyte", "train-labels-idx1-ubyte" }) do
        os.execute(string.format("gzip -c %s/MNIST/raw/%s > %s/%s.gz", root, name, mirror, name))
      end
      local Local = data.datasets.MNIST:extend("LocalMNIST")
      Local.mirrors = { "file://" .. mirror .. "/" }
      local said = {}
      Local.log = function(msg) said[#said + 1] = msg end
      local ds = Local(root .. "/fetched", { download = true })
      assert.are.equal(3, #ds)
      assert.are.same({ 8, 1, 10 }, ds.targets:tolist())
      assert.are.equal("Downloading file://" .. mirror .. "/train-images-idx3-ubyte.gz", said[1])
      local f = io.open(root .. "/fetched/train-labels-idx1-ubyte.gz", "rb")
      assert.is_not_nil(f)
      f:close()
      local ok, err = pcall(Local, root .. "/fetched", { train = false, download = true })
      assert.is_false(ok)
      assert.matches("LocalMNIST: could not download t10k%-images%-idx3%-ubyte.gz from file://", err)
    end)

    it("FashionMNIST reads Debian's files by default", function()
      local f = io.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
      if not f then return pending("dataset-fashion-mnist is not installed") end
      f:close()
      local test = data.datasets.FashionMNIST(nil, { train = false })
      assert.are.equal(10000, #test)
      assert.are.same({ 10000, 1, 28, 28 }, test.tensors[1].shape)
      local _, y = test:get(1)
      assert.are.equal("Ankle boot", test.classes[y:item()])
      assert.are.equal("uint8", test.tensors[1].dtype)
      assert.is_true(test:get(1):max():item() <= 1)
    end)
  end)
end)

describe("luann.utils", function()
  -- Output of a progress bar over n items written to a temporary file.
  local function capture(n, opts)
    local f = io.tmpfile()
    opts.file = f
    local bar = utils.progress(n, opts)
    for i in bar do bar:set_postfix({ loss = luann.tensor(1 / i) }) end
    f:seek("set")
    local text = f:read("a")
    f:close()
    return text
  end

  describe("progress", function()
    it("writes one plain line at the end when not on a terminal", function()
      local text = capture(3, { desc = "Epoch 1", tty = false })
      assert.matches("^Epoch 1: 3/3 %[00:00, [%d.]+it/s, loss=0%.3333%]\n$", text)
    end)

    it("redraws in place on a terminal", function()
      local text = capture(4, { desc = "train", tty = true, interval = 0 })
      assert.matches("^\rtrain:   0%%|", text)
      assert.matches("\rtrain: 100%%|[^|]+| 4/4 %[00:00, [%d.]+it/s, loss=0%.25%] *\n$", text)
      local draws = select(2, text:gsub("\r", ""))
      assert.are.equal(5, draws)
    end)

    it("wraps loaders, lists and iterators", function()
      local loader = data.DataLoader(data.TensorDataset(luann.arange(1, 6)), { batch_size = 2 })
      local f = io.tmpfile()
      local n = 0
      for x in utils.progress(loader, { file = f, tty = false }) do n = n + x:numel() end
      assert.are.equal(5, n)
      local items = {}
      for v in utils.progress({ "a", "b" }, { file = f, tty = false }) do items[#items + 1] = v end
      assert.are.same({ "a", "b" }, items)
      f:seek("set")
      assert.matches("^3/3 %[.-%]\n2/2 %[.-%]\n$", f:read("a"))
      f:close()
      assert.has_error(function() utils.progress(true) end,
        "progress: bad argument #1 (loader, list, count or iterator expected, got boolean)")
    end)
  end)

  describe("Timer", function()
    it("measures elapsed time and functions", function()
      local t = utils.Timer()
      assert.is_true(t:elapsed() >= 0)
      local secs, a, b = utils.time(function(x) return x, x + 1 end, 1)
      assert.is_true(secs >= 0)
      assert.are.same({ 1, 2 }, { a, b })
      assert.is_true(t:reset() >= 0)
    end)
  end)
end)
