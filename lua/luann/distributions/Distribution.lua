--- The base of every distribution: its batch shape, and the sample shape a
-- caller asks for in front of it. Subclasses give sample, log_prob and
-- entropy (and rsample where it reparameterises).
local class = require "luann.utils.class"
local check = require "luann.utils.check"

local Distribution = class.new("Distribution")
Distribution.__self_name = "d" -- for the hint of a '.' call: d:method()

--- The shape of n draws: sample_shape (a list, a number or nil) followed
-- by the batch shape.
-- @param fname the caller, for errors
-- @param sample_shape nil, an integer or a list of sizes
-- @return a list of sizes
function Distribution:extended_shape(fname, sample_shape)
  local shape = {}
  if type(sample_shape) == "number" then sample_shape = { sample_shape } end
  if sample_shape ~= nil and type(sample_shape) ~= "table" then
    check.error(string.format("%s: bad argument #1 'sample_shape' (a list of sizes expected, got %s)",
      fname, type(sample_shape)), 2)
  end
  for i = 1, sample_shape and #sample_shape or 0 do
    if #shape >= 8 then check.error(fname .. ": sample_shape has too many dims", 2) end
    shape[i] = check.integer(fname, 1, sample_shape[i], "sample_shape", nil, 0, 3)
  end
  for _, s in ipairs(self.batch_shape) do shape[#shape + 1] = s end
  return shape
end

--- The broadcast of two shapes (lists), or nil when they do not broadcast.
function Distribution.broadcast_shapes(a, b)
  local n, r = math.max(#a, #b), {}
  for i = 1, n do
    local x, y = a[#a - n + i] or 1, b[#b - n + i] or 1
    if x ~= y and x ~= 1 and y ~= 1 then return nil end
    r[i] = x == 1 and y or x
  end
  return r
end

--- The generator of a sampling method's options table {generator = g}
-- (nil or a table; other keys are errors).
-- @param fname the method's name for messages
-- @param opts the options, or nil
-- @return the generator, or nil
function Distribution.generator_of(fname, opts)
  opts = check.options(fname, 2, opts, 2)
  check.known_options(fname, opts, { generator = true }, 2)
  return opts.generator
end

function Distribution:__tostring()
  return string.format("%s(batch_shape=(%s))", self.__name or "Distribution",
    table.concat(self.batch_shape, ","))
end

return Distribution
