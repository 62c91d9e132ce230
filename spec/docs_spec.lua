-- docs_spec.lua: every ```lua block of README.md and docs/*.md runs. Each
-- file's blocks run in order in one `luann` child (a block may use what the
-- ones before it made), in a fresh temporary folder (their files land
-- there), each block with a time limit; an error names the file and line
-- (spec/support/doc_blocks.lua).
local helpers = require "helpers"

local build = os.getenv("LUANN_BUILD") or "build"
local BLOCK_SECONDS = 60
local FILE_SECONDS = 300

local quote = require("helpers").quote

local function run(cmd)
  local out = os.tmpname()
  local ok = os.execute(cmd .. " >" .. out .. " 2>&1")
  local text = helpers.read_file(out)
  os.remove(out)
  return ok, text
end

local root = assert(io.popen("pwd")):read("l")
local exe = build:sub(1, 1) == "/" and build .. "/luann" or root .. "/" .. build .. "/luann"

local files = { "README.md" }
for name in assert(io.popen("ls docs/*.md 2>/dev/null")):lines() do files[#files + 1] = name end

describe("the documentation's lua blocks", function()
  it("are found: the guides are there and hold code", function()
    assert.is_true(#files >= 6, "docs/*.md: " .. table.concat(files, " "))
    for _, file in ipairs(files) do
      assert.truthy(helpers.read_file(file):find("\n```lua\n", 1, true), file .. " has no lua block")
    end
  end)

  it("are left out only rarely, each with a reason", function()
    local skipped = 0
    for _, file in ipairs(files) do
      for why in helpers.read_file(file):gmatch("<!%-%- not run: (.-) %-%->") do
        assert.truthy(why:find("%a"), file .. ": a not-run marker without a reason")
        skipped = skipped + 1
      end
    end
    assert.is_true(skipped <= 4, skipped .. " blocks are marked not run")
  end)

  for _, file in ipairs(files) do
    it("run in " .. file, function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir " .. quote(dir)))
      local ok, out = run("cd " .. quote(dir) .. " && timeout " .. FILE_SECONDS .. " " .. quote(exe)
        .. " " .. quote(root .. "/spec/support/doc_blocks.lua") .. " " .. quote(root .. "/" .. file)
        .. " " .. quote(file) .. " " .. BLOCK_SECONDS)
      os.execute("rm -rf " .. quote(dir))
      assert(ok, "a lua block of " .. file .. " failed:\n" .. out)
    end)
  end
end)
