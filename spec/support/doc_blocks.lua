-- doc_blocks.lua: the ```lua code blocks of a Markdown file, as one chunk
-- that runs them in order (a block may use what the blocks before it made,
-- as a reader of the page does). Used by spec/docs_spec.lua.
--
--   luann spec/support/doc_blocks.lua FILE LABEL SECONDS
--
-- Every other line of FILE becomes an empty line, so an error's line number
-- is the file's: "README.md:212: ...". A block preceded by a line
-- `<!-- not run: why -->` is left out (fragments; keep them rare), one
-- preceded by `<!-- needs opencl -->` is left out when LUANN_NO_OPENCL is
-- set. Each block gets SECONDS of time, checked by a hook between Lua
-- instructions (the spec's `timeout` bounds a block stuck in C).
local path, label, seconds = arg[1], arg[2], tonumber(arg[3]) or 60
-- The blocks of a Markdown text: a list of {fence =, first =, last =, run =}
-- (first..last: the lines of the code, between the fences).
local function find_blocks(text)
  local lines = {}
  for l in (text .. "\n"):gmatch("(.-)\r?\n") do lines[#lines + 1] = l end
  local blocks, i = {}, 1
  while i <= #lines do
    if lines[i]:match("^```lua%s*$") then
      local b = { fence = i, first = i + 1, run = true }
      local j = i - 1
      while j > 0 and lines[j]:match("^%s*$") do j = j - 1 end
      local prev = lines[j] or ""
      b.why = prev:match("^<!%-%- not run: (.-) %-%->$")
      if b.why then b.run = false end
      if prev:match("^<!%-%- needs opencl %-%->$") and os.getenv("LUANN_NO_OPENCL") then b.run = false end
      i = i + 1
      while i <= #lines and not lines[i]:match("^```%s*$") do i = i + 1 end
      b.last = i - 1
      blocks[#blocks + 1] = b
    end
    i = i + 1
  end
  return blocks, lines
end

local f = assert(io.open(path, "rb"))
local blocks, lines = find_blocks(f:read("a"))
f:close()

local chunk = {}
for n = 1, #lines do chunk[n] = "" end
for _, b in ipairs(blocks) do
  if b.run then
    chunk[b.fence] = string.format("__doc_block(%d)", b.first)
    for n = b.first, b.last do chunk[n] = lines[n] end
  end
end

local deadline, current
function __doc_block(line) -- luacheck: ignore (a global the chunk calls)
  current, deadline = line, luann.clock() + seconds
end
debug.sethook(function()
  if deadline and luann.clock() > deadline then
    debug.sethook()
    error(string.format("%s: the block at line %d ran past %g s", label, current, seconds), 2)
  end
end, "", 1000)
local fn = assert(load(table.concat(chunk, "\n"), "@" .. label, "t"))
fn()
