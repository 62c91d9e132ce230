--- data.default_collate: turns a list of samples into a batch.
-- Each sample is the list of values a dataset's get(i) returned; the batch
-- is a list with one entry per position, made by stacking:
-- tensors -> luann.stack along a new dim 1, integers -> int64 tensor,
-- other numbers -> float64 tensor, booleans -> bool tensor, strings -> a
-- list, tables -> the same table shape with each field collated.
local luann = require "luann"
local check = require "luann.utils.check"
local class = require "luann.utils.class"

local collate = {}

-- Tables in samples are collated field by field, up to this depth (which
-- also stops cyclic tables).
local MAX_DEPTH = 32

local function collate_values(values, where, depth)
  local first = values[1]
  if check.is_tensor(first) then
    return luann.stack(values, 1)
  elseif type(first) == "number" then
    local all_int = true
    for _, v in ipairs(values) do
      if math.type(v) ~= "integer" then all_int = false break end
    end
    return luann.tensor(values, { dtype = all_int and "int64" or "float64" })
  elseif type(first) == "boolean" then
    return luann.tensor(values, { dtype = "bool" })
  elseif type(first) == "string" then
    return values
  elseif type(first) == "table" then
    if depth >= MAX_DEPTH then
      check.error(string.format("default_collate: samples nested deeper than %d tables (at %s)", MAX_DEPTH, where), 2)
    end
    local out = {}
    for k in pairs(first) do
      local field = {}
      for i, v in ipairs(values) do
        if type(v) ~= "table" or v[k] == nil then
          check.error(string.format("default_collate: sample %d lacks field '%s' of %s", i, tostring(k), where), 2)
        end
        field[i] = v[k]
      end
      out[k] = collate_values(field, where .. "." .. tostring(k), depth + 1)
    end
    return out
  end
  check.error("default_collate: cannot batch values of type " .. class.typename(first) .. " (at " .. where .. ")", 2)
end

--- Batches a list of samples (each a list of values, as returned by get).
-- @param samples a list of samples
-- @return a list: one batched value per sample position
function collate.default_collate(samples)
  if type(samples) ~= "table" or #samples == 0 then
    check.error("default_collate: a non-empty list of samples expected", 2)
  end
  local width = samples[1].n or #samples[1]
  local out = { n = width }
  for j = 1, width do
    local column = {}
    for i, s in ipairs(samples) do
      if s[j] == nil then
        check.error(string.format("default_collate: sample %d has %d values, sample 1 has %d", i, s.n or #s, width), 2)
      end
      column[i] = s[j]
    end
    out[j] = collate_values(column, "value " .. j, 0)
  end
  return out
end

return collate
