--- luann.repl: the Lua half of the `luann` executable's REPL (bindings/main.c
-- reads the lines and calls these): compiling a chunk so that its top-level
-- `local`s stay defined for the next lines, printing values readably, and
-- tab completion through metatables.
-- @usage local repl = require "luann.repl"
-- local f = repl.load("local y = 5")  f()
-- print(repl.load("return y")())       -- 5
local luann = require "luann"

local M = {}

-- The REPL's locals: names declared by a top-level `local` of an earlier
-- line, and their values. Chunks run with an _ENV that reads and writes
-- these names here and every other name in _G.
local declared, values = {}, {}
local env = setmetatable({}, {
  __index = function(_, k)
    if declared[k] then return values[k] end
    return _G[k]
  end,
  __newindex = function(_, k, v)
    if declared[k] then values[k] = v else _G[k] = v end
  end,
})

-- ---- finding top-level `local`s ---------------------------------------------

local openers = { ["function"] = true, ["do"] = true, ["if"] = true, ["repeat"] = true }
local closers = { ["end"] = true, ["until"] = true }

-- The tokens of a chunk that matter here: {text =, from =, to =} for names,
-- keywords and the symbols `,` `=` `<` `;`; strings and comments skipped.
local function tokens(code)
  local list, i, n = {}, 1, #code
  while i <= n do
    local c = code:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif code:sub(i, i + 1) == "--" then
      local eq = code:match("^%[(=*)%[", i + 2)
      if eq then
        local _, close = code:find("]" .. eq .. "]", i, true)
        i = (close or n) + 1
      else
        i = (code:find("\n", i, true) or n) + 1
      end
    elseif c == "[" and code:match("^%[=*%[", i) then
      local eq = code:match("^%[(=*)%[", i)
      local _, close = code:find("]" .. eq .. "]", i, true)
      i = (close or n) + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n and code:sub(j, j) ~= c do
        if code:sub(j, j) == "\\" then j = j + 1 end
        j = j + 1
      end
      i = j + 1
    elseif c:match("[%a_]") then
      local word = code:match("^[%w_]+", i)
      list[#list + 1] = { text = word, from = i, to = i + #word - 1 }
      i = i + #word
    elseif c:match("%d") then
      i = i + #code:match("^[%w_.]+", i)
    else
      if c == "=" and code:sub(i + 1, i + 1) == "=" then
        i = i + 2
      else
        list[#list + 1] = { text = c, from = i, to = i }
        i = i + 1
      end
    end
  end
  return list
end

-- Rewrites the chunk's top-level `local a, b = ...` as `a, b = ...` and
-- `local function f` as `function f`, and returns the names they declare.
-- Statements with attributes (`<close>`, `<const>`) stay true locals of
-- the chunk: their meaning is the scope.
local function hoist_locals(code)
  local toks, depth, names, cuts = tokens(code), 0, {}, {}
  local k = 1
  while k <= #toks do
    local t = toks[k].text
    if openers[t] then
      depth = depth + 1
    elseif closers[t] then
      depth = depth - 1
    elseif t == "local" and depth == 0 then
      local nxt = toks[k + 1]
      if nxt and nxt.text == "function" and toks[k + 2] then
        names[#names + 1] = toks[k + 2].text
        cuts[#cuts + 1] = { from = toks[k].from, to = nxt.from - 1, text = "" }
      elseif nxt then
        local list, j, attrib = {}, k + 1, false
        while toks[j] and toks[j].text:match("^[%a_][%w_]*$") do
          list[#list + 1] = toks[j].text
          if toks[j + 1] and toks[j + 1].text == "<" then attrib = true end
          if not (toks[j + 1] and toks[j + 1].text == ",") then break end
          j = j + 2
        end
        if not attrib and #list > 0 then
          for _, name in ipairs(list) do names[#names + 1] = name end
          local after = toks[j + 1]
          if after and after.text == "=" then
            cuts[#cuts + 1] = { from = toks[k].from, to = toks[k + 1].from - 1, text = "" }
          else -- `local x`: x = nil
            cuts[#cuts + 1] = { from = toks[k].from, to = toks[j].to,
              text = table.concat(list, ", ") .. " = nil" }
          end
        end
      end
    end
    k = k + 1
  end
  for c = #cuts, 1, -1 do
    code = code:sub(1, cuts[c].from - 1) .. cuts[c].text .. code:sub(cuts[c].to + 1)
  end
  return code, names
end

--- Compiles a line (or lines) of REPL input. Its top-level locals become
-- REPL locals: defined for the lines after it, as they would be further down
-- a script; other names are globals as usual.
-- @param code the text
-- @param[opt] chunkname default "=stdin"
-- @return the function, or nil and the syntax error (as load gives it)
function M.load(code, chunkname)
  local fn, err = load(code, chunkname or "=stdin", "t", env)
  if not fn then return nil, err end
  local rewritten, names = hoist_locals(code)
  if #names == 0 then return fn end
  local hoisted = load(rewritten, chunkname or "=stdin", "t", env)
  if not hoisted then return fn end -- a case the rewriting misreads: plain Lua
  return function(...)
    for _, name in ipairs(names) do
      if not declared[name] then declared[name], values[name] = true, nil end
    end
    return hoisted(...)
  end
end

-- ---- printing -----------------------------------------------------------------

local MAX_ITEMS, MAX_DEPTH = 40, 3

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
end

local function repr(v, depth, seen)
  if type(v) == "string" then return depth > 0 and string.format("%q", v) or v end
  if type(v) ~= "table" then return tostring(v) end
  local mt = getmetatable(v)
  if mt and (rawget(mt, "__tostring") or mt.__tostring) then return tostring(v) end
  if seen[v] then return "{...}" end
  if depth >= MAX_DEPTH then return "{...}" end
  seen[v] = true
  local parts, count = {}, 0
  local n = rawlen(v)
  for i = 1, n do
    count = count + 1
    if count > MAX_ITEMS then break end
    parts[#parts + 1] = repr(rawget(v, i), depth + 1, seen)
  end
  local keys = {}
  for k in next, v do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then return a < b end
    return type(a) < type(b)
  end)
  for _, k in ipairs(keys) do
    count = count + 1
    if count > MAX_ITEMS then break end
    local key = is_identifier(k) and k or "[" .. repr(k, depth + 1, seen) .. "]"
    parts[#parts + 1] = key .. " = " .. repr(rawget(v, k), depth + 1, seen)
  end
  if count > MAX_ITEMS then parts[#parts + 1] = "..." end
  seen[v] = nil
  local one_line = "{" .. table.concat(parts, ", ") .. "}"
  if #one_line <= 100 or depth > 0 then return one_line end
  return "{\n  " .. table.concat(parts, ",\n  ") .. "\n}"
end

--- How the REPL shows a value: tensors, modules and optimizers as their
-- tostring (a module's structure, as PyTorch's repr), plain tables as their
-- contents (`{1, 2, x = 3}`, nested tables a few levels deep), strings as
-- they are at the top and quoted inside tables.
-- @param v any value
-- @return a string
function M.repr(v)
  return repr(v, 0, {})
end

-- ---- completion ---------------------------------------------------------------

-- The fields a tensor has besides its methods (bindings/ltensor.c).
local tensor_fields = { "shape", "dtype", "device", "grad", "requires_grad", "grad_fn", "is_leaf",
  "ndim", "T" }

local function add_keys(out, seen, t, word, methods_only)
  if type(t) ~= "table" then return end
  for k, v in next, t do
    if type(k) == "string" and k:sub(1, #word) == word and not seen[k]
      and (word:sub(1, 1) == "_" or k:sub(1, 1) ~= "_")
      and (not methods_only or type(v) == "function") then
      seen[k] = true
      out[#out + 1] = k
    end
  end
end

--- The names that complete `word` as a field (sep ".") or method (sep ":")
-- of obj: its own keys, a module's parameters and children, and the methods
-- found through its metatables' __index chain (classes and their bases),
-- a tensor's methods and fields.
-- @param obj the value before the separator
-- @param word the start of the name
-- @param sep "." or ":"
-- @return a sorted list of names
function M.fields(obj, word, sep)
  local out, seen = {}, {}
  if type(obj) == "table" then
    add_keys(out, seen, obj, word, sep == ":")
    -- a module's registries (nn.Module keeps parameters, children, buffers apart)
    for _, reg in ipairs({ "_parameters", "_modules", "_buffers" }) do
      local r = rawget(obj, reg)
      if type(r) == "table" and sep == "." then add_keys(out, seen, rawget(r, "map") or r, word) end
    end
  end
  if luann.is_tensor(obj) then
    add_keys(out, seen, getmetatable(obj).methods, word)
    if sep == "." then
      for _, f in ipairs(tensor_fields) do
        if f:sub(1, #word) == word and not seen[f] then seen[f] = true out[#out + 1] = f end
      end
    end
  else
    -- the class chain: the metatable (a class), then each class's parent
    -- through the class's own metatable's __index or `super`
    local cls, steps = getmetatable(obj), 0
    while type(cls) == "table" and steps < 32 do
      local index = rawget(cls, "__index")
      if type(index) == "table" and index ~= cls then add_keys(out, seen, index, word, sep == ":") end
      if rawget(cls, "__name") or index == cls then add_keys(out, seen, cls, word, sep == ":") end
      local meta = rawget(cls, "methods")
      if type(meta) == "table" then add_keys(out, seen, meta, word) end
      local parent = rawget(cls, "super")
      if parent == nil then
        local mm = getmetatable(cls)
        parent = type(mm) == "table" and type(mm.__index) == "table" and mm.__index or nil
        if parent == nil and type(index) == "table" and index ~= cls then
          parent = getmetatable(index) and getmetatable(index).__index
          if type(parent) ~= "table" then parent = nil end
        end
      end
      cls, steps = parent, steps + 1
    end
  end
  table.sort(out)
  return out
end

--- Completions of what is typed before the cursor ("na", "luann.ze",
-- "m:par", "t.sh"): each the whole text with a name completed.
-- @param text the word under the cursor
-- @return a list of strings
function M.complete(text)
  local path, sep, word = text:match("^(.-)([.:])([%w_]*)$")
  local obj, prefix
  if path == nil then
    word, prefix, sep = text, "", "."
    local out, seen = {}, {}
    add_keys(out, seen, values, word)
    for name in pairs(declared) do
      if name:sub(1, #word) == word and not seen[name] then seen[name] = true out[#out + 1] = name end
    end
    add_keys(out, seen, _G, word)
    table.sort(out)
    for i, name in ipairs(out) do out[i] = prefix .. name end
    return out
  end
  obj = env
  for part in path:gmatch("[^.:]+") do
    if type(obj) ~= "table" and not luann.is_tensor(obj) then return {} end
    local ok, v = pcall(function() return obj[part] end) -- __index may raise
    if not ok then return {} end
    obj = v
  end
  local out = M.fields(obj, word, sep)
  for i, name in ipairs(out) do out[i] = path .. sep .. name end
  return out
end

--- Sets the REPL's globals: help (see luann.help).
function M.install()
  if rawget(_G, "help") == nil then rawset(_G, "help", require("luann.help").help) end
end

return M
