-- helpers.lua: what several specs share: flattening nested tolist() values,
-- comparing a tensor with reference values, mapping lists, sorting keys,
-- reading and writing files, temporary paths, error messages.
local assert = require "luassert"
local helpers = {}

--- Nested tolist() values flattened in row-major order.
function helpers.flat(list, out)
  out = out or {}
  if type(list) ~= "table" then
    out[#out + 1] = list
    return out
  end
  for _, v in ipairs(list) do helpers.flat(v, out) end
  return out
end

--- A tensor's values as a flat Lua list.
function helpers.values(t) return helpers.flat(t:tolist()) end

function helpers.is_nan(x) return x ~= x end

--- f applied to each element of the list xs, as a new list.
function helpers.map(xs, f)
  local out = {}
  for i, v in ipairs(xs) do out[i] = f(v) end
  return out
end

--- A table's keys, sorted.
function helpers.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

--- Every element of t within atol + rtol * |ref| of ref (NaN matches NaN);
-- an error at the caller's caller names the first element that is not.
function helpers.assert_close(t, ref, rtol, atol)
  local got = helpers.values(t)
  assert.are.equal(#ref, #got, "element count")
  for i = 1, #ref do
    local a, b = got[i], ref[i]
    local ok = (helpers.is_nan(a) and helpers.is_nan(b)) or a == b or
               math.abs(a - b) <= atol + rtol * math.abs(b)
    if not ok then
      error(("element %d: got %.10g, expected %.10g"):format(i, a, b), 3)
    end
  end
end

--- The bytes of the file at path (an error naming it when unreadable).
function helpers.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

--- Writes bytes to the file at path, replacing it.
function helpers.write_file(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

--- Whether a file can be opened for reading at path.
function helpers.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

--- A maker of temporary paths (os.tmpname's file plus a suffix, default
-- default_suffix), and a function removing every path made, tmpname's too.
function helpers.temp_paths(default_suffix)
  local made = {}
  local function tmp(suffix)
    local base = os.tmpname() -- created: removed at the end too
    local p = base .. (suffix or default_suffix)
    made[#made + 1] = base
    made[#made + 1] = p
    return p
  end
  local function remove_all()
    for _, p in ipairs(made) do os.remove(p) end
  end
  return tmp, remove_all
end

--- The error fn(...) raises, without its "file:line: " prefix.
function helpers.err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return (tostring(err):gsub("^[^:]*:%d+: ", ""))
end

--- s in single quotes for the shell, its own single quotes escaped.
function helpers.quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- Runs the Lua chunk body in a child luann process (build/, or $LUANN_BUILD) with
-- peak() in scope: the process's peak resident memory (VmHWM) in KiB; returns what
-- it printed, stderr included.
function helpers.run_with_peak(body)
  local script = os.tmpname()
  helpers.write_file(script, [[
local function peak()
  for l in io.lines("/proc/self/status") do
    local kb = l:match("^VmHWM:%s*(%d+)")
    if kb then return tonumber(kb) end
  end
end
]] .. body)
  local h = assert(io.popen((os.getenv("LUANN_BUILD") or "build") .. "/luann " .. script .. " 2>&1"))
  local out = h:read("a")
  h:close()
  os.remove(script)
  return out
end

--- Runs a Python script (of spec/support, unless a path) with Debian's python3 ($PYTHON to
-- override: the PATH's may be another, without torch or numpy) and returns
-- its output; a failed run is an error showing the command and the output.
function helpers.python(script, ...)
  local python = os.getenv("PYTHON") or "/usr/bin/python3"
  if not script:find("/", 1, true) then script = "spec/support/" .. script end
  local cmd = table.concat({ python, script, ... }, " ") .. " 2>&1"
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  assert(ok, cmd .. " failed:\n" .. out)
  return out
end

return helpers
