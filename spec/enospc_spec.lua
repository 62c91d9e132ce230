-- enospc_spec.lua: luann.save on a full disk (core/checkpoint.c). A save
-- over an existing checkpoint that runs out of space raises an error that
-- names the file and the reason, leaves the old checkpoint as it was
-- (byte for byte, and loadable) and leaves no temp file behind.
--
-- The full disk is spec/support/enospc_shim.c, preloaded into a child
-- `$LUANN_BUILD/luann`: it gives the writer's temp file N free bytes, or
-- makes its flush, fsync or close fail, as delayed allocation does. It is
-- built here with cc. Under a sanitizer build (make sanitize-test) the
-- shim comes before the ASan runtime, so that its fwrite is the one the
-- writer calls.
local luann = require "luann"

local build = os.getenv("LUANN_BUILD") or "build"

local quote = require("helpers").quote

local function shell(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

local helpers = require "helpers"
local read_file, write_file = helpers.read_file, helpers.write_file

local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  return shell("pwd"):gsub("%s+$", "") .. "/" .. p
end

local function escape(s) return (s:gsub("%p", "%%%0")) end

local dir = shell("mktemp -d"):gsub("%s+$", "")
local exe = abspath(build .. "/luann")
local shim = dir .. "/enospc_shim.so"
local target = dir .. "/model.ckp"
local log = dir .. "/enospc.log"

-- The child saves a fresh model (about 1 MB that does not compress) over
-- target; it prints the error and exits 2 if the save raised, 0 if not.
local child = dir .. "/save.lua"
write_file(child, [[
local luann = require "luann"
luann.manual_seed(7)
local new = {step = 2, w = luann.rand(250000), note = "new"}
local ok, err = pcall(luann.save, os.getenv("ENOSPC_TARGET"), new)
io.write(ok and "saved" or tostring(err))
os.exit(ok and 0 or 2)
]])

local function build_shim()
  local out = shell("cc -shared -fPIC -O1 -o " .. quote(shim) .. " "
    .. quote(abspath("spec/support/enospc_shim.c")) .. " -ldl 2>&1; echo rc=$?")
  assert(out:match("rc=0%s*$"), "cannot build the ENOSPC shim:\n" .. out)
end

-- Runs the child under the shim with env (a table of LUANN_ENOSPC_*
-- settings); returns its exit code, its output and the shim's log.
local function save_on_full_disk(env)
  os.remove(log)
  local preload = shim
  if (os.getenv("LD_PRELOAD") or "") ~= "" then
    preload = preload .. ":" .. os.getenv("LD_PRELOAD")
  end
  -- an ASan build wants its runtime first; the shim must come before it
  local asan = (os.getenv("ASAN_OPTIONS") or "") .. ":verify_asan_link_order=0"
  local vars = {
    "LD_PRELOAD=" .. quote(preload),
    "ASAN_OPTIONS=" .. quote(asan),
    "ENOSPC_TARGET=" .. quote(target),
    "LUANN_ENOSPC_MATCH=" .. quote("model.ckp.tmp."),
    "LUANN_ENOSPC_LOG=" .. quote(log),
  }
  for k, v in pairs(env) do vars[#vars + 1] = k .. "=" .. quote(tostring(v)) end
  local out = shell("cd " .. quote(dir) .. " && env " .. table.concat(vars, " ")
    .. " " .. quote(exe) .. " " .. quote(child) .. " 2>&1; printf '\\nrc=%d\\n' $?")
  local body, code = out:match("^(.-)\nrc=(%d+)%s*$")
  return tonumber(code), body, (helpers.exists(log) and read_file(log) or "")
end

local function listing()
  local names = {}
  for name in shell("ls -A " .. quote(dir)):gmatch("[^\n]+") do
    if name:match("^model") then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

describe("luann.save", function()
  describe("on a full disk", function()
    local old = {step = 1, w = luann.arange(0, 1000):float(), note = "old"}
    local old_bytes, full_size

    setup(function()
      build_shim()
      -- the size of the new checkpoint, from a save the shim lets through
      local code, out = save_on_full_disk({})
      assert(code == 0, "the unconstrained save failed:\n" .. out)
      full_size = #read_file(target)
      assert(full_size > 3 * 2 ^ 18, "want a payload over several 256 KiB drains")
    end)

    before_each(function()
      luann.save(target, old)
      old_bytes = read_file(target)
    end)

    teardown(function() os.execute("rm -rf " .. quote(dir)) end)

    local function assert_old_intact()
      assert.are.same({"model.ckp"}, listing()) -- no temp file left
      assert.are.equal(old_bytes, read_file(target))
      local back = luann.load(target)
      assert.are.equal(1, back.step)
      assert.are.equal("old", back.note)
      assert.are.same(old.w:tolist(), back.w:tolist())
    end

    local function assert_fails(env, where)
      local code, out, injected = save_on_full_disk(env)
      assert.are.equal(2, code, "the save did not raise:\n" .. out)
      assert.matches(escape(target), out) -- names the file
      assert.matches("No space left on device", out)
      assert.matches("ENOSPC " .. where, injected) -- the fault was reached
      assert_old_intact()
    end

    -- free bytes at which the disk fills: before the header, inside it, just
    -- after it, in the middle of the payload, one byte short of the end
    local cases = {
      {"with no free space", function() return 0 end},
      {"inside the header", function() return 17 end},
      {"right after the header", function() return 40 end},
      {"after the first 256 KiB of payload", function() return 40 + 2 ^ 18 end},
      {"in the middle of the payload", function() return full_size // 2 end},
      {"one byte before the end", function() return full_size - 1 end},
    }
    for _, case in ipairs(cases) do
      it("raises and keeps the old checkpoint when the disk fills " .. case[1], function()
        assert_fails({LUANN_ENOSPC_BYTES = case[2]()}, "f?write")
      end)
    end

    for _, when in ipairs({"flush", "fsync", "close"}) do
      it("raises and keeps the old checkpoint when " .. when .. " reports ENOSPC", function()
        assert_fails({LUANN_ENOSPC_AT = when}, "f?" .. when)
      end)
    end

    it("saves when the disk has exactly the space the checkpoint needs", function()
      local code, out, injected = save_on_full_disk({LUANN_ENOSPC_BYTES = full_size})
      assert.are.equal(0, code, out)
      assert.are.equal("", injected)
      assert.are.same({"model.ckp"}, listing())
      local back = luann.load(target)
      assert.are.equal(2, back.step)
      assert.are.equal("new", back.note)
      assert.are.same({250000}, back.w:size())
    end)
  end)
end)
