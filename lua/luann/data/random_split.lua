--- data.random_split: a dataset cut at random into non-overlapping Subsets,
-- as torch.utils.data.random_split.
-- @usage local train, val = table.unpack(data.random_split(full, {0.9, 0.1}, {generator = luann.Generator(1)}))
local luann = require "luann"
local check = require "luann.utils.check"
local Subset = require "luann.data.Subset"

--- @param dataset a dataset
-- @param lengths a list of counts that add up to #dataset, or of fractions
--   that add up to 1 (what rounding leaves over goes to the first parts, one each)
-- @param opts {generator = nil}
-- @return a list of data.Subset
return function(dataset, lengths, opts)
  local fname = "data.random_split"
  local ok, n = pcall(function() return #dataset end)
  if type(dataset) ~= "table" or type(dataset.get) ~= "function" or not ok then
    check.error(fname .. ": bad argument #1 (dataset expected)", 2)
  end
  if type(lengths) ~= "table" or #lengths == 0 then
    check.error(fname .. ": bad argument #2 'lengths' (a non-empty list expected)", 2)
  end
  opts = check.options(fname, 3, opts)
  check.known_options(fname, opts, { generator = true })
  local counts, sum, fractions = {}, 0, false
  for i, l in ipairs(lengths) do
    if type(l) ~= "number" or l < 0 or l ~= l then
      check.error(string.format("%s: lengths[%d] must be a non-negative number, got %s", fname, i, tostring(l)), 2)
    end
    fractions = fractions or math.type(l) == "float" and l < 1
    sum = sum + l
  end
  if fractions then
    if math.abs(sum - 1) > 1e-9 then
      check.error(string.format("%s: fractions add up to %g, not 1", fname, sum), 2)
    end
    local given = 0
    for i, f in ipairs(lengths) do
      counts[i] = math.floor(n * f)
      given = given + counts[i]
    end
    for i = 1, n - given do counts[(i - 1) % #counts + 1] = counts[(i - 1) % #counts + 1] + 1 end
  else
    for i, l in ipairs(lengths) do counts[i] = check.integer(fname, 2, l, "lengths[" .. i .. "]") end
    if sum ~= n then
      check.error(string.format("%s: lengths add up to %d, but the dataset has %d samples", fname, sum, n), 2)
    end
  end
  local perm = luann.randperm(n, { generator = opts.generator }):tolist()
  local parts, at = {}, 0
  for i, c in ipairs(counts) do
    parts[i] = Subset(dataset, table.move(perm, at + 1, at + c, 1, {}))
    at = at + c
  end
  return parts
end
