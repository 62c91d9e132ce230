-- docindex.lua: collects the LDoc comments of the library into a Lua module,
-- luann.docs, which the build embeds so that the REPL's help(x) works from
-- an installed binary, and which spec/doc_spec.lua checks the API against.
-- usage: lua5.4 bindings/docindex.lua OUT.lua FILE...
--
-- Lua files: a `---` block documents the function defined on the line after
-- it, keyed "luann/nn/Linear.lua:42" (the chunk name and linedefined that
-- debug.getinfo gives at run time, so no naming guesswork; an init.lua is
-- "luann/nn.lua", as the embedded chunk names it); the file's first block,
-- or one with @module or @classmod, documents the module, keyed by the
-- module's name ("luann.nn.Linear", or the name after @module); a block
-- above `X:extend("Name")` or `class.new("Name"` documents that class,
-- keyed "class Name"; one above `M.name = value` documents that field,
-- keyed "luann.autograd.no_grad".
-- C files: a `/*** ... */` block with `@function name` documents the C
-- function that the library registers under that name: "sum" (luann.sum
-- and t:sum), "Tensor:backward" (a method only), "opencl.devices"
-- (luann.opencl.devices).
local out_path = arg[1]
local docs = {}

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

-- "lua/luann/nn/init.lua" -> "luann.nn", "lua/luann/nn/Linear.lua" -> "luann.nn.Linear"
local function module_name(path)
  return (path:gsub("^.-lua/", ""):gsub("%.lua$", ""):gsub("/", "."):gsub("%.init$", ""))
end

-- The text of a comment block without its markers and the tags LDoc uses
-- only for layout; @param, @return and @usage stay, they are for readers.
local function clean(lines)
  local kept = {}
  for _, l in ipairs(lines) do
    if not l:match("^%s*@module") and not l:match("^%s*@classmod")
      and not l:match("^%s*@submodule") and not l:match("^%s*@function")
      and not l:match("^%s*@within") and not l:match("^%s*@type")
      and not l:match("^%s*@table") then
      kept[#kept + 1] = l
    end
  end
  while kept[#kept] == "" do kept[#kept] = nil end
  return table.concat(kept, "\n")
end

-- Whether a line of Lua defines a function.
local function defines_function(code)
  return code:match("^%s*function[%s%(]") or code:match("^%s*local%s+function%s")
    or code:match("=%s*function%s*%(")
end

local function scan_lua(path)
  local source = path:gsub("^.-lua/", ""):gsub("/init%.lua$", ".lua")
  local lines = {}
  for l in (read(path) .. "\n"):gmatch("(.-)\r?\n") do lines[#lines + 1] = l end
  local i, first = 1, true
  while i <= #lines do
    local l = lines[i]
    if l:match("^%s*%-%-%-") and not l:match("^%s*%-%-%-%-") then
      local block = { (l:gsub("^%s*%-%-%-%s?", "")) }
      i = i + 1
      while i <= #lines and lines[i]:match("^%s*%-%-") do
        block[#block + 1] = lines[i]:gsub("^%s*%-%-%s?", "")
        i = i + 1
      end
      local code = lines[i] or ""
      local tagged, named = false, nil
      for _, b in ipairs(block) do
        if b:match("^@module") or b:match("^@classmod") then
          tagged, named = true, b:match("^@%a+%s+(%S+)")
        end
      end
      local class_name = code:match(":extend%(%s*\"([%w_]+)\"") or code:match("class%.new%(%s*\"([%w_]+)\"")
      if class_name and not tagged then
        docs["class " .. class_name] = clean(block)
      elseif tagged or (first and not defines_function(code)) then
        local name = named or module_name(path)
        docs[name] = docs[name] or clean(block)
      elseif defines_function(code) then
        docs[source .. ":" .. i] = clean(block)
      elseif code:match("^[%w_]+%.([%w_]+)%s*=") then
        -- a field set to a value made elsewhere: keyed by its name
        docs[module_name(path) .. "." .. code:match("^[%w_]+%.([%w_]+)%s*=")] = clean(block)
      end
      first = false
    else
      if l:match("%S") and not l:match("^%s*%-%-") then first = false end
      i = i + 1
    end
  end
end

local function scan_c(path)
  for body in read(path):gmatch("/%*%*%*(.-)%*/") do
    local lines = {}
    for l in (body .. "\n"):gmatch("(.-)\n") do
      lines[#lines + 1] = l:gsub("^%s*%*?%s?", "", 1)
    end
    while lines[1] == "" do table.remove(lines, 1) end
    for _, l in ipairs(lines) do
      local name = l:match("^@function%s+(%S+)")
      if name then docs[name] = clean(lines) end
      local tname = l:match("^@table%s+(%S+)")
      if tname then docs["luann." .. tname] = clean(lines) end
    end
  end
end

-- "@modules": every Lua module's name, one a line, so that tools can load
-- what the library loads on first use (nn's layers) without package.preload.
local modules = {}
for i = 2, #arg do
  if arg[i]:match("%.lua$") then
    scan_lua(arg[i])
    modules[#modules + 1] = module_name(arg[i])
  else
    scan_c(arg[i])
  end
end
table.sort(modules)
docs["@modules"] = table.concat(modules, "\n")

local keys = {}
for k in pairs(docs) do keys[#keys + 1] = k end
table.sort(keys)
local out = { "-- Generated by bindings/docindex.lua from the doc comments: do not edit.",
  "return {" }
for _, k in ipairs(keys) do
  out[#out + 1] = string.format("  [%q] = %q,", k, docs[k])
end
out[#out + 1] = "}\n"
local tmp = out_path .. ".tmp"
local f = assert(io.open(tmp, "wb"))
f:write(table.concat(out, "\n"))
f:close()
assert(os.rename(tmp, out_path))
