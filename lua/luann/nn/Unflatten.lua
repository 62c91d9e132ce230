--- nn.Unflatten: splits dim into the sizes unflattened_size, the inverse
-- of nn.Flatten: (N, 784) -> (N, 1, 28, 28). One size may be -1, inferred.
-- @usage local unflat = nn.Unflatten(2, {1, 28, 28})
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"

local Unflatten = Module:extend("Unflatten")

--- @param dim the dim to split, 1-based (negative from the end)
-- @param unflattened_size a list of sizes whose product is that dim's size
function Unflatten:__init(dim, unflattened_size)
  self.dim = check.integer("nn.Unflatten", 1, dim, "dim", nil, nil, 3)
  if self.dim == 0 then check.error("nn.Unflatten: bad argument #1 'dim' (dims are 1-based, got 0)", 2) end
  if type(unflattened_size) ~= "table" then
    check.error("nn.Unflatten: bad argument #2 'unflattened_size' (list of sizes expected, got "
      .. type(unflattened_size) .. ")", 2)
  end
  local sizes, inferred = {}, false
  for i = 1, rawlen(unflattened_size) do
    local s = rawget(unflattened_size, i)
    sizes[i] = check.integer("nn.Unflatten", 2, s, "unflattened_size", nil, -1, 3)
    if sizes[i] == -1 then
      if inferred then
        check.error("nn.Unflatten: bad argument #2 'unflattened_size' (only one size can be -1)", 2)
      end
      inferred = true
    end
  end
  if #sizes == 0 then check.error("nn.Unflatten: bad argument #2 'unflattened_size' (empty list)", 2) end
  self.unflattened_size = sizes
end

-- The sizes for a dim of n elements, the -1 filled in; nil when they do not fit.
local function resolve(sizes, n)
  local out, known, free = {}, 1, nil
  for i, s in ipairs(sizes) do
    out[i] = s
    if s == -1 then free = i else known = known * s end
  end
  if free == nil then return known == n and out or nil end
  if known == 0 or n % known ~= 0 then return nil end
  out[free] = n // known
  return out
end

--- @param x a tensor
-- @return a view (or copy when the layout needs one) with dim split
function Unflatten:forward(x)
  check.tensor("nn.Unflatten", 1, x, "input")
  local shape, nd = x.shape, x:dim()
  local d = self.dim < 0 and self.dim + nd + 1 or self.dim
  if d < 1 or d > nd then
    check.error(("nn.Unflatten: dim %d out of range for a tensor of %d dims"):format(self.dim, nd), 2)
  end
  local sizes = resolve(self.unflattened_size, shape[d])
  if not sizes then
    check.error(("nn.Unflatten: unflattened_size (%s) does not fit dim %d of size %d")
      :format(table.concat(self.unflattened_size, ", "), self.dim, shape[d]), 2)
  end
  local out = table.move(shape, 1, d - 1, 1, {})
  table.move(sizes, 1, #sizes, d, out)
  table.move(shape, d + 1, nd, d + #sizes, out)
  return x:reshape(out)
end

function Unflatten:extra_repr()
  return ("dim=%d, unflattened_size=(%s)"):format(self.dim, table.concat(self.unflattened_size, ", "))
end

return Unflatten
