-- reference/load.lua: the PyTorch reference values of spec/reference/*.lua
-- (written by make_reference.py) as cases and luann tensors.
-- @usage local ref = require "reference.load"
--   local c = ref.case("conv", "conv2d_plain")
--   local x = ref.tensor(c.inputs.input)
local luann = require "luann"
local ref = {}

--- Every case of a family ("conv", "pool", "norm", "recurrent", "attention",
-- "tensor_ops"), by name; require loads each file once.
function ref.family(family)
  return require("reference." .. family)
end

--- One case; an error at the caller's line when it is not there.
function ref.case(family, name)
  local c = ref.family(family)[name]
  if c == nil then error("no reference case " .. family .. "." .. name, 2) end
  return c
end

--- A stored tensor as a luann tensor. dtype (default float64) applies to
-- float data only: int64 indices and bool masks keep their own dtype.
function ref.tensor(t, dtype)
  local x = luann.tensor(t.data, { dtype = t.dtype or dtype or "float64" })
  return x:view(table.unpack(t.shape))
end

return ref
