--- Argument checks shared by luann's Lua library.
-- Each check raises `fname: bad argument #pos 'name' (what expected, got X)`.
-- `level` counts as error() would inside the checking function: 2 (the
-- default) points at its caller; constructors, called through the class's
-- __call, pass 3. Wherever it lands inside the library (lua/luann/*.lua),
-- the error moves further out to the first caller that is not: the user's
-- line (see check.error).
local luann = require "luann"
local class = require "luann.utils.class"

local check = {}

--- Raises msg like error(msg, level), but at the first frame from `level`
-- outwards that is outside the library's own files (none when that is a
-- C function, as with error()): a wrong call made through layers of the
-- library still names the user's line. The bindings' errors decide the
-- same way (luann._where, bindings/lerror.c).
-- @param msg the message (any other value is raised as it is, as error() does)
-- @param level as error()'s, counted in the caller (default 1: the caller)
-- @usage check.error("nn.Linear: in_features must be positive", 2)
function check.error(msg, level)
  if type(msg) ~= "string" then error(msg, 0) end
  error(luann._where((level or 1) + 1) .. msg, 0)
end

--- Calls fn(...) (a C function) and returns its first two results; an
-- error it raises is raised again at the user's line (check.error).
-- @usage local t = check.call(C.npy_load, path)
function check.call(fn, ...)
  local ok, a, b = pcall(fn, ...)
  if not ok then check.error(a, 2) end
  return a, b
end

--- Whether v is a luann tensor.
-- @param v any value
-- @return boolean
check.is_tensor = luann.is_tensor

local function fail(fname, pos, name, expected, v, level, got)
  local what = name and ("#" .. pos .. " '" .. name .. "'") or ("#" .. pos)
  check.error(string.format("%s: bad argument %s (%s expected, got %s)", fname, what,
    expected, got or class.typename(v)), (level or 2) + 2)
end

--- Checks that v is a tensor.
-- @return v
function check.tensor(fname, pos, v, name, level)
  if not check.is_tensor(v) then fail(fname, pos, name, "tensor", v, level) end
  return v
end

--- Checks that v is a tensor or nil.
-- @return v
function check.opt_tensor(fname, pos, v, name, level)
  if v ~= nil and not check.is_tensor(v) then
    fail(fname, pos, name, "tensor or nil", v, level)
  end
  return v
end

--- Checks that v is a number (default def when nil), optionally within [lo, hi].
-- @return the number
function check.number(fname, pos, v, name, def, lo, hi, level)
  if v == nil then v = def end
  if type(v) ~= "number" then fail(fname, pos, name, "number", v, level) end
  if (lo and v < lo) or (hi and v > hi) or v ~= v then
    check.error(string.format("%s: bad argument #%d '%s' (%s out of range [%s, %s])",
      fname, pos, name or "?", tostring(v), tostring(lo or "-inf"),
      tostring(hi or "inf")), (level or 2) + 1)
  end
  return v
end

--- Checks that v is an integer (default def when nil), at least lo.
-- A float with an exact integer value (4/2) counts as that integer, as in
-- Lua's own string.rep; any other float is an error naming the argument.
-- @return the integer
function check.integer(fname, pos, v, name, def, lo, level)
  if v == nil then v = def end
  local whole = type(v) == "number" and v == math.floor(v) and math.abs(v) < 2 ^ 53
  if math.type(v) ~= "integer" and not whole then
    fail(fname, pos, name, "integer", v, level,
      type(v) == "number" and tostring(v) or nil)
  end
  v = math.tointeger(v)
  if lo and v < lo then
    check.error(string.format("%s: bad argument #%d '%s' (must be >= %d, got %d)",
      fname, pos, name or "?", lo, v), (level or 2) + 1)
  end
  return v
end

--- v as an integer when it is one or a float with an exact integer value
-- (4/2), the rule of check.integer without raising: nil for anything else.
-- @param v any value
-- @return an integer, or nil
function check.to_integer(v)
  if math.type(v) == "integer" then return v end
  return type(v) == "number" and math.tointeger(v) or nil
end

--- Checks that v is a boolean (default def when nil).
-- @return the boolean
function check.boolean(fname, pos, v, name, def, level)
  if v == nil then v = def end
  if type(v) ~= "boolean" then fail(fname, pos, name, "boolean", v, level) end
  return v
end

--- Checks that v is a table or nil; returns v or an empty table.
-- @return a table
function check.options(fname, pos, v, level)
  if v == nil then return {} end
  if type(v) ~= "table" then fail(fname, pos, nil, "options table", v, level) end
  return v
end

--- Checks that v is a list of tensors, or one tensor (a list of one).
-- The list is read raw, 1..rawlen: a proxy table's __index or __len (or a
-- tensor, which indexes forever along a huge dim) cannot make it endless.
-- @return a plain sequence of the tensors
function check.tensor_list(fname, pos, v, name, level)
  if check.is_tensor(v) then return { v } end
  if type(v) ~= "table" then fail(fname, pos, name, "list of tensors", v, level) end
  local list = {}
  for i = 1, rawlen(v) do
    local t = rawget(v, i)
    if not check.is_tensor(t) then
      check.error(string.format("%s: bad argument #%d '%s' (item %d is %s, expected a tensor)",
        fname, pos, name or "?", i, class.typename(t)), (level or 2) + 1)
    end
    list[i] = t
  end
  return list
end

--- Checks that v is one of the strings in `choices` (default def when nil).
-- `choices` is the library's own plain list, read raw.
-- @return the string
function check.choice(fname, pos, v, name, def, choices, level)
  if v == nil then v = def end
  if type(choices) ~= "table" or getmetatable(choices) ~= nil then
    error("check.choice: choices must be a plain list of strings", 2)
  end
  for _, c in ipairs(choices) do
    if v == c then return v end
  end
  check.error(string.format("%s: bad argument #%d '%s' (expected one of %s, got %s)",
    fname, pos, name or "?", '"' .. table.concat(choices, '", "') .. '"',
    type(v) == "string" and '"' .. v .. '"' or tostring(v)), (level or 2) + 1)
end

--- Rejects keys of an options table that the function does not know.
-- @param fname the function name for the message
-- @param opts the options table
-- @param known a set {name = true}
function check.known_options(fname, opts, known, level)
  for k in pairs(opts) do
    if known[k] == nil then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      check.error(string.format("%s: unknown option '%s' (known: %s)", fname,
        tostring(k), table.concat(names, ", ")), (level or 2) + 1)
    end
  end
end

--- "(2,3)": a tensor's shape for messages.
-- @param t a tensor
-- @return string
function check.shape_str(t)
  local dims = {}
  for i = 1, t:dim() do dims[i] = tostring(t:size(i)) end
  return "(" .. table.concat(dims, ",") .. ")"
end

--- Whether two tensors have the same shape.
-- @return boolean
function check.same_shape(a, b)
  if a:dim() ~= b:dim() then return false end
  for i = 1, a:dim() do
    if a:size(i) ~= b:size(i) then return false end
  end
  return true
end

--- Reads a function's arguments PyTorch's way: by position after the
-- tensors, or by name in a trailing options table (a table with a string key,
-- or empty; a list such as {2, 3} is a positional value). Unknown names raise.
-- @param fname the function name for messages
-- @param names the parameter names, in positional order
-- @param n select("#", ...) of the arguments that follow
-- @return a table of the values by name
function check.args(fname, names, n, ...)
  local vals, out = { ... }, {}
  local last = vals[n]
  local opts = nil
  if type(last) == "table" and not check.is_tensor(last) then
    local named = next(last) == nil
    for k in pairs(last) do
      if type(k) == "string" then named = true break end
    end
    if named then opts, n = last, n - 1 end
  end
  if n > #names then
    check.error(string.format("%s: too many arguments (%d, expected at most %d)", fname,
      n, #names), 3)
  end
  for i = 1, n do out[names[i]] = vals[i] end
  if opts then
    local known = {}
    for _, k in ipairs(names) do known[k] = true end
    check.known_options(fname, opts, known, 3)
    for k, v in pairs(opts) do
      if out[k] ~= nil then
        check.error(string.format("%s: '%s' given both by position and by name", fname, k), 3)
      end
      out[k] = v
    end
  end
  return out
end

return check
