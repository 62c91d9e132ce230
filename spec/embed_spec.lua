-- embed_spec.lua: examples/embed/host, a C program embedding luann, run as
-- a child process. `make test` builds it; this spec builds it too when it
-- is missing, so `busted spec/embed_spec.lua` works alone after `make`.

local build = os.getenv("LUANN_BUILD") or "build"

local quote = require("helpers").quote

local function absolute(path)
  if path:sub(1, 1) == "/" then
    return path
  end
  local p = io.popen("pwd")
  local cwd = p:read("l")
  p:close()
  return cwd .. "/" .. path
end

-- Runs cmd; returns its stdout and exit status.
local function run(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

-- The numbers printed after a line starting with `label`, one table per row.
local function rows_after(out, label)
  local start = assert(out:find(label, 1, true), "no block " .. label)
  local rows = {}
  for line in out:sub(start):gmatch("\n([^\n]*)") do
    if not line:match("^%s+[%d.]") then
      break
    end
    local row = {}
    for v in line:gmatch("%S+") do
      row[#row + 1] = tonumber(v)
    end
    rows[#rows + 1] = row
  end
  return rows
end

describe("embedding", function()
  local host = build .. "/examples/embed/host"
  local out, code

  setup(function()
    local f = io.open(host, "rb")
    if f then
      f:close()
    else
      local log, rc = run("make -s -C examples/embed LUANN=" .. quote(absolute("."))
        .. " B=" .. quote(absolute(build)))
      assert(rc == 0, "building examples/embed failed:\n" .. log)
    end
    out, code = run(quote(host) .. " examples/embed/model.lua")
  end)

  describe("host", function()
    it("passes its own checks against the C reference", function()
      assert.equal(0, code, out)
      assert.matches("\nembed: ok\n$", out)
    end)

    it("prints (5,3) class probabilities whose rows sum to 1", function()
      for _, label in ipairs({ "(input from luann_push_floats)",
                               "(input from luann_push_tensor)" }) do
        local rows = rows_after(out, label)
        assert.equal(5, #rows)
        for _, row in ipairs(rows) do
          assert.equal(3, #row)
          local sum = 0
          for _, p in ipairs(row) do
            assert.is_true(p > 0 and p < 1)
            sum = sum + p
          end
          assert.is_true(math.abs(sum - 1) < 1e-5)
        end
      end
    end)

    it("gets the same values from both ways of passing the input", function()
      assert.same(rows_after(out, "(input from luann_push_floats)"),
                  rows_after(out, "(input from luann_push_tensor)"))
    end)

    it("agrees with the C reference within 1e-5", function()
      local n = 0
      for d in out:gmatch("largest difference from the C reference: (%S+)") do
        assert.is_true(tonumber(d) <= 1e-5)
        n = n + 1
      end
      assert.equal(2, n)
    end)

    it("gets a Lua error, not a crash, for a badly shaped input", function()
      assert.matches("a %(2,5%) input is refused: [^\n]*matmul", out)
    end)

    it("reports a missing model file and exits non-zero", function()
      local msg, rc = run(quote(host) .. " /nonexistent/model.lua")
      assert.are_not.equal(0, rc)
      assert.matches("host: cannot open /nonexistent/model.lua", msg)
      assert.matches("embed: FAILED", msg)
    end)
  end)
end)
