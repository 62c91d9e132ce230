-- luann.data.random_split, ConcatDataset, Subset's batch path and
-- data.transforms, checked against what each promises sample by sample.
local luann = require "luann"
local data = require "luann.data"
local T = data.transforms

local function range_dataset(n, from)
  from = from or 1
  return data.TensorDataset(luann.arange(from, from + n):double(), luann.arange(from, from + n))
end

local function loader_values(ds, bs)
  local got = {}
  for x in data.DataLoader(ds, { batch_size = bs }) do
    for _, v in ipairs(x:tolist()) do got[#got + 1] = v end
  end
  return got
end

describe("data.random_split", function()
  it("cuts a dataset into disjoint subsets covering it, by counts", function()
    local parts = data.random_split(range_dataset(10), { 6, 4 }, { generator = luann.Generator(1) })
    assert.are.equal(2, #parts)
    assert.are.equal(6, #parts[1])
    assert.are.equal(4, #parts[2])
    local seen = {}
    for _, p in ipairs(parts) do
      for i = 1, #p do
        local x = p:get(i):item()
        assert.is_nil(seen[x])
        seen[x] = true
      end
    end
    for v = 1, 10 do assert.is_true(seen[v]) end
  end)

  it("takes fractions, the remainder one each to the first parts", function()
    local parts = data.random_split(range_dataset(10), { 0.33, 0.33, 0.34 }, { generator = luann.Generator(2) })
    assert.are.same({ 4, 3, 3 }, { #parts[1], #parts[2], #parts[3] })
  end)

  it("repeats for a seeded generator", function()
    local a = data.random_split(range_dataset(8), { 5, 3 }, { generator = luann.Generator(3) })
    local b = data.random_split(range_dataset(8), { 5, 3 }, { generator = luann.Generator(3) })
    assert.are.same(a[1].indices, b[1].indices)
  end)

  it("names bad lengths", function()
    assert.has_error(function() data.random_split(range_dataset(10), { 6, 5 }) end,
      "data.random_split: lengths add up to 11, but the dataset has 10 samples")
    assert.has_error(function() data.random_split(range_dataset(10), { 0.5, 0.6 }) end,
      "data.random_split: fractions add up to 1.1, not 1")
    assert.has_error(function() data.random_split(range_dataset(10), { 11, -1 }) end,
      "data.random_split: lengths[2] must be a non-negative number, got -1")
  end)
end)

describe("data.ConcatDataset and Subset batches", function()
  it("joins datasets end to end, one by one and in batches alike", function()
    local c = data.ConcatDataset({ range_dataset(3), range_dataset(4, 101) })
    assert.are.equal(7, #c)
    assert.are.equal(3, c:get(3):item())
    assert.are.equal(101, c:get(4):item())
    assert.are.equal(104, c:get(7):item())
    assert.has_error(function() c:get(8) end, "ConcatDataset: index 8 out of range for a dataset of 7")
    assert.are.same({ 1, 2, 3, 101, 102, 103, 104 }, loader_values(c, 3))
    assert.has_error(function() data.ConcatDataset({ range_dataset(2), 5 }) end,
      "data.ConcatDataset: entry 2 is a number, not a dataset")
  end)

  it("batches a Subset from its parent's tensors, as get gives them", function()
    local s = data.Subset(range_dataset(10), { 7, 2, 9 })
    assert.is_not_nil(s:batch_tensors())
    assert.are.same({ 7, 2, 9 }, loader_values(s, 2))
  end)
end)

describe("data.transforms", function()
  local x = luann.arange(1, 2 * 2 * 4 * 5 + 1):double():view(2, 2, 4, 5)

  it("Normalize subtracts and divides per channel, image or batch", function()
    local n = T.Normalize({ 1, 2 }, { 2, 4 })
    local y = n(x)
    assert.are.equal((x[1][2][3][4] - 2) / 4, y[1][2][3][4])
    assert.are.equal((x[2][1][1][1] - 1) / 2, y[2][1][1][1])
    assert.are.same(y[1]:tolist(), n(x[1]):tolist())
    assert.has_error(function() T.Normalize({ 1, 2, 3 }, { 1 })(x) end,
      "Normalize: 3 mean values for an image of 2 channels")
  end)

  it("RandomCrop takes, per sample, one window of the padded image", function()
    local crop = T.RandomCrop({ 3, 4 }, { padding = 1, generator = luann.Generator(4) })
    local padded = luann.nn.functional.pad(x, { 1, 1, 1, 1 })
    for _ = 1, 5 do
      local y = crop(x)
      assert.are.same({ 2, 2, 3, 4 }, y.shape)
      for n = 1, 2 do
        local found = false
        for top = 1, 4 do
          for left = 1, 4 do
            local w = padded[n]:narrow(2, top, 3):narrow(3, left, 4)
            found = found or (w - y[n]):abs():max():item() == 0
          end
        end
        assert.is_true(found, "sample " .. n .. " is no window of its padded image")
      end
    end
    assert.are.same(x[1]:tolist(), T.RandomCrop({ 4, 5 })(x[1]):tolist()) -- the whole image
    assert.has_error(function() T.RandomCrop(9)(x) end, "RandomCrop: a 9x9 crop of an image padded to 4x5")
  end)

  it("RandomHorizontalFlip mirrors each sample on its own", function()
    local flipped = T.RandomHorizontalFlip(1)(x)
    assert.are.equal(x[1][1][1][5], flipped[1][1][1][1])
    assert.are.same(x:tolist(), T.RandomHorizontalFlip(0)(x):tolist())
    local many = luann.arange(1, 3):double():view(1, 1, 1, 2):expand(200, 1, 1, 2)
    local y = T.RandomHorizontalFlip(0.5, { generator = luann.Generator(5) })(many)
    local first = y:select(4, 1):reshape(-1)
    local flips = first:eq(2):sum():item()
    assert.is_true(flips > 70 and flips < 130, "flipped " .. flips .. " of 200")
  end)

  it("Compose applies its transforms in order", function()
    local t = T.Compose({ T.RandomHorizontalFlip(1), T.Normalize(1, 2) })
    assert.are.equal((x[1][1][1][5] - 1) / 2, t(x)[1][1][1][1])
    assert.has_error(function() T.Compose({ 3 }) end, "Compose: entry 1 is a number, not a transform")
  end)
end)
