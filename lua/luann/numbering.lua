--- luann.numbering: the numbers in state_dict keys, luann's and PyTorch's.
--
-- luann numbers the children of Sequential and ModuleList from 1
-- ("1.weight", "layers.3.bias"), as Lua counts; PyTorch numbers them from 0
-- ("0.weight", "layers.2.bias"). Every other part of a key is the same, so
-- converting shifts each all-digit component of a key by one:
--
--    numbering.from_pytorch{["0.weight"] = w, ["fc.bias"] = b}
--      --> {["1.weight"] = w, ["fc.bias"] = b}
--
-- luann.safetensors.load shifts a file whose metadata says format = "pt" (as
-- PyTorch's writers set it), safetensors.save(path, sd, {format = "pt"})
-- shifts back, and module:load_state_dict(sd, {numbering = "pytorch"})
-- shifts a table from any other source (an .npz written by numpy.savez).
-- @module luann.numbering
local check = require "luann.utils.check"
local numbering = {}

-- The key with each numeric component moved by delta; nil and the
-- component when one would fall below 0.
local function shift_key(key, delta)
  local parts = {}
  for part in (key .. "."):gmatch("([^.]*)%.") do
    if part:match("^[1-9]%d*$") or part == "0" then
      local n = math.tointeger(tonumber(part))
      if n == nil or n + delta < 0 then return nil, part end
      part = tostring(n + delta)
    end
    parts[#parts + 1] = part
  end
  return table.concat(parts, ".")
end

local function shift(fname, sd, delta)
  if type(sd) ~= "table" then
    check.error(("%s: bad argument #1 (table expected, got %s)"):format(fname, type(sd)), 3)
  end
  local out = {}
  for k, v in pairs(sd) do
    if type(k) == "string" then
      local shifted, part = shift_key(k, delta)
      if shifted == nil then
        check.error(("%s: key '%s' has the component %s, which PyTorch's numbering from 0 "
          .. "cannot hold (luann numbers children from 1)"):format(fname, k, part), 3)
      end
      k = shifted
    end
    out[k] = v
  end
  return out
end

--- A copy of sd with PyTorch's numbering (from 0) turned into luann's (from 1).
-- @param sd a table of name -> tensor
-- @return a new table; the tensors are the same
function numbering.from_pytorch(sd) return shift("numbering.from_pytorch", sd, 1) end

--- A copy of sd with luann's numbering (from 1) turned into PyTorch's.
-- @param sd a table of name -> tensor
-- @return a new table; the tensors are the same
function numbering.to_pytorch(sd) return shift("numbering.to_pytorch", sd, -1) end

return numbering
