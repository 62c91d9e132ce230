-- cli_spec.lua: the `luann` executable (bindings/main.c), run as a child
-- process: options, scripts and their arguments, errors, stdin, the REPL
-- (through a pseudo-terminal made by util-linux `script`), and the module
-- loaded by a plain lua5.4.
local luann = require "luann"

local build = os.getenv("LUANN_BUILD") or "build"
local exe = build .. "/luann"

local quote = require("helpers").quote

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local write_file = require("helpers").write_file

-- Runs a shell command with `input` on stdin (nothing when nil); returns
-- {out =, err =, code =} (code 0 on success).
local function run(cmd, input)
  local out_path, err_path, in_path = os.tmpname(), os.tmpname(), os.tmpname()
  write_file(in_path, input or "")
  local _, _, code = os.execute(cmd .. " <" .. in_path .. " >" .. out_path
    .. " 2>" .. err_path)
  local r = { out = slurp(out_path), err = slurp(err_path), code = code }
  os.remove(out_path)
  os.remove(err_path)
  os.remove(in_path)
  return r
end

local function luann_cmd(args)
  return quote(exe) .. " " .. args
end

local function temp_script(text)
  local path = os.tmpname()
  write_file(path, text)
  return path
end

describe("luann executable", function()
  describe("-v", function()
    it("prints the luann and Lua versions", function()
      local r = run(luann_cmd("-v"))
      assert.equal(0, r.code)
      assert.matches("^luann 0%.1%.0 %(Lua 5%.4%.%d+%)\n$", r.out)
      assert.equal("", r.err)
    end)
  end)

  describe("-e", function()
    it("runs a statement with the luann global preloaded", function()
      local r = run(luann_cmd("-e " .. quote(
        "print(type(luann), luann == package.loaded.luann, 6 * 7)")))
      assert.equal(0, r.code)
      assert.equal("table\ttrue\t42\n", r.out)
    end)

    it("prints tensors with tostring", function()
      local r = run(luann_cmd("-e " .. quote("print(luann.ones(2, 3))")))
      assert.equal(0, r.code)
      assert.equal(tostring(luann.ones(2, 3)) .. "\n", r.out)
    end)

    it("runs several -e in order, then the script", function()
      local path = temp_script("print(x + y)")
      local r = run(luann_cmd("-e 'x = 1' -e 'y = 2' " .. quote(path)))
      os.remove(path)
      assert.equal(0, r.code)
      assert.equal("3\n", r.out)
    end)

    it("reports an error with a traceback and exits non-zero", function()
      local r = run(luann_cmd("-e " .. quote("error('boom')")))
      assert.are_not.equal(0, r.code)
      assert.equal("", r.out)
      assert.matches("%(command line%):1: boom", r.err)
      assert.matches("stack traceback:", r.err)
    end)

    it("reports luann's own errors", function()
      local r = run(luann_cmd("-e " .. quote("luann.ones(2, 3):view(4)")))
      assert.are_not.equal(0, r.code)
      assert.matches("view", r.err)
      assert.matches("stack traceback:", r.err)
    end)
  end)

  describe("-l", function()
    it("requires a module into a global", function()
      local r = run(luann_cmd("-l s=string -e " .. quote("print(s.upper('ab'))")))
      assert.equal(0, r.code)
      assert.equal("AB\n", r.out)
    end)

    it("fails on a missing module", function()
      local r = run(luann_cmd("-l no_such_module_xyz -e 'print(1)'"))
      assert.are_not.equal(0, r.code)
      assert.equal("", r.out)
      assert.matches("module 'no_such_module_xyz' not found", r.err)
    end)
  end)

  describe("script", function()
    local script = [[
print(arg[-1] ~= nil, arg[0] == SCRIPT, arg[1], arg[2], #arg)
print(select("#", ...), ...)
print(luann.ones(2, 3):numel())
]]

    it("gets arg (arg[0] the script, arg[-1] the interpreter) and ...", function()
      local path = os.tmpname()
      write_file(path, (script:gsub("SCRIPT", string.format("%q", path))))
      local r = run(luann_cmd(quote(path) .. " a 'b c'"))
      os.remove(path)
      assert.equal(0, r.code)
      assert.equal("true\ttrue\ta\tb c\t2\n2\ta\tb c\n6\n", r.out)
      assert.equal("", r.err)
    end)

    it("puts the interpreter and options at negative indices", function()
      local path = temp_script("print(arg[-3], arg[-2], arg[-1], arg[1], arg[2])")
      local r = run(luann_cmd("-e 'x=1' " .. quote(path) .. " z"))
      os.remove(path)
      assert.equal(0, r.code)
      assert.equal(exe .. "\t-e\tx=1\tz\tnil\n", r.out)
    end)

    it("takes a script named like an option after --", function()
      local path = temp_script("print('ran', ...)")
      local r = run(luann_cmd("-- " .. quote(path) .. " -x"))
      os.remove(path)
      assert.equal(0, r.code)
      assert.equal("ran\t-x\n", r.out)
    end)

    it("exits non-zero with the message and a traceback on an error", function()
      local path = temp_script("local function f() error('deep') end\nf()\n")
      local r = run(luann_cmd(quote(path)))
      os.remove(path)
      assert.are_not.equal(0, r.code)
      assert.matches(":1: deep", r.err)
      assert.matches("stack traceback:", r.err)
      assert.matches("in local 'f'", r.err)
    end)

    it("exits non-zero on a syntax error", function()
      local path = temp_script("x = = 1\n")
      local r = run(luann_cmd(quote(path)))
      os.remove(path)
      assert.are_not.equal(0, r.code)
      assert.matches("unexpected symbol", r.err)
    end)

    it("exits non-zero on a missing file", function()
      local r = run(luann_cmd("/nonexistent/script.lua"))
      assert.are_not.equal(0, r.code)
      assert.matches("cannot open /nonexistent/script.lua", r.err)
    end)

    it("passes os.exit's status through", function()
      local r = run(luann_cmd("-e 'os.exit(3)'"))
      assert.equal(3, r.code)
    end)
  end)

  describe("stdin", function()
    it("runs stdin as a script when it is not a terminal", function()
      local r = run(quote(exe), "print(6 * 7)\nprint(luann ~= nil)\n")
      assert.equal(0, r.code)
      assert.equal("42\ntrue\n", r.out)
    end)

    it("runs stdin for - with arguments", function()
      local r = run(luann_cmd("- a b"), "print(arg[0], ...)\n")
      assert.equal(0, r.code)
      assert.equal("-\ta\tb\n", r.out)
    end)

    it("reports an error in stdin and exits non-zero", function()
      local r = run(quote(exe), "error('from stdin')\n")
      assert.are_not.equal(0, r.code)
      assert.matches("stdin:1: from stdin", r.err)
      assert.matches("stack traceback:", r.err)
    end)
  end)

  describe("bad options", function()
    it("prints the usage and exits 1", function()
      local r = run(luann_cmd("-x"))
      assert.equal(1, r.code)
      assert.equal("", r.out)
      assert.matches("unrecognized option '%-x'", r.err)
      assert.matches("usage: ", r.err)
    end)

    it("says when -e lacks its argument", function()
      local r = run(luann_cmd("-e"))
      assert.equal(1, r.code)
      assert.matches("'%-e' needs argument", r.err)
    end)
  end)

  describe("-i without a terminal", function()
    it("runs the script, then reads statements with prompts", function()
      local path = temp_script("x = 21")
      local r = run(luann_cmd("-i " .. quote(path)), "x * 2\nerror('e1')\nx + 1\n")
      os.remove(path)
      assert.equal(0, r.code)
      assert.matches("^luann 0%.1%.0 %(Lua 5%.4%.%d+%)\n", r.out)
      assert.truthy(r.out:find("> 42\n> ", 1, true))
      assert.truthy(r.out:find("> 22\n", 1, true))
      assert.matches("stdin:1: e1", r.err)
    end)
  end)
end)

-- The REPL needs a terminal: `script` runs luann on a pseudo-terminal and
-- feeds it our input; the pty echoes, so checks look for outputs that the
-- input does not contain.
local has_pty = os.execute("command -v timeout >/dev/null 2>&1")
  and os.execute("script -qec true /dev/null </dev/null >/dev/null 2>&1")

-- `script` passes the end of its input on as Ctrl-D only if the child has
-- read everything within a few milliseconds, so stdin stays open until the
-- REPL has run the last line (it creates a marker file); then Ctrl-D ends
-- the session. `timeout` bounds everything if luann misbehaves.
local function repl(input, history)
  local marker = os.tmpname()
  os.remove(marker)
  local in_path = temp_script(input .. string.format("io.open(%q, 'w'):close()\n", marker))
  local feed = "{ cat " .. quote(in_path) .. "; i=0; while [ ! -e " .. quote(marker)
    .. " ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; }"
  local r = run("(" .. feed .. " | env TERM=dumb LUANN_HISTORY=" .. quote(history)
    .. " timeout 60 script -qec " .. quote(quote(exe)) .. " /dev/null)")
  os.remove(in_path)
  os.remove(marker)
  r.out = r.out:gsub("\r", ""):gsub("\27%[[%d;?]*%a", "")
  return r
end

describe("luann REPL", function()
  if not has_pty then
    pending("needs util-linux script, a pseudo-terminal and coreutils timeout")
    return
  end
  local history = os.tmpname()
  local r

  setup(function()
    os.remove(history)
    r = repl(table.concat({
      "6*7",
      "luann.ones(2, 3)",
      "function sq(x)",
      "  return x * x",
      "end",
      "sq(12)",
      "error('oops')",
      "6*8",
      "1, nil, 'a'",
      "luann.zero\t(2)",
      "t = luann.ones(2, 3)",
      "t:vie\t(3, 2)",
      "",
    }, "\n"), history)
  end)

  teardown(function()
    os.remove(history)
  end)

  it("starts with the version banner", function()
    assert.matches("luann 0%.1%.0 %(Lua 5%.4%.%d+%)", r.out)
  end)

  it("prints expressions as values", function()
    assert.truthy(r.out:find("\n42\n", 1, true))
    assert.truthy(r.out:find("\n1\tnil\ta\n", 1, true))
  end)

  it("prints tensors with tostring", function()
    assert.truthy(r.out:find(tostring(luann.ones(2, 3)), 1, true))
  end)

  it("continues an incomplete chunk with the >> prompt", function()
    assert.truthy(r.out:find(">> ", 1, true))
    assert.truthy(r.out:find("\n144\n", 1, true))
  end)

  it("reports an error and goes on", function()
    assert.truthy(r.out:find("stdin:1: oops", 1, true))
    assert.truthy(r.out:find("\n48\n", 1, true))
  end)

  it("completes names with tab", function()
    assert.truthy(r.out:find(tostring(luann.zeros(2)), 1, true))
    assert.truthy(r.out:find(tostring(luann.ones(3, 2)), 1, true))
  end)

  it("exits 0 at end of input", function()
    assert.equal(0, r.code)
  end)

  it("saves the lines to the history file", function()
    local text = slurp(history)
    assert.truthy(text:find("6*7\n", 1, true))
    assert.truthy(text:find("  return x * x\n", 1, true))
  end)

  it("works when the history file cannot be written", function()
    local r2 = repl("6*9\n", "/nonexistent/dir/history")
    assert.equal(0, r2.code)
    assert.truthy(r2.out:find("\n54\n", 1, true))
  end)
end)

describe("require 'luann' from lua5.4", function()
  it("loads the module built as luann.so", function()
    local r = run("LUA_CPATH=" .. quote(build .. "/?.so;;") .. " lua5.4 -e "
      .. quote("local luann = require 'luann' print(luann.ones(2, 3))"))
    assert.equal(0, r.code)
    assert.equal(tostring(luann.ones(2, 3)) .. "\n", r.out)
    assert.equal("", r.err)
  end)

  it("sets no global", function()
    local r = run("LUA_CPATH=" .. quote(build .. "/?.so;;") .. " lua5.4 -e "
      .. quote("require 'luann' print(rawget(_G, 'luann'))"))
    assert.equal(0, r.code)
    assert.equal("nil\n", r.out)
  end)

  it("gives tensors their operators with luann.core alone", function()
    local script = [[
      local core = require "luann.core"
      assert(package.loaded.luann == nil)
      local a = core.tensor({1, 2}) -- int64: a / a is float
      local function show(t) return table.concat(t:tolist(), " ") end
      print(show(a + a), show(a * 2), show(2 - a), show(-a), show(a / a),
            show(a ^ 2), (core.ones(2, {dtype = "int64"}) * 1.5).dtype)
      print(select(2, pcall(function() return a + core.ones(3) end)))
      print(select(2, pcall(function() return a * "x" end)))
    ]]
    local r = run("LUA_CPATH=" .. quote(build .. "/?.so;;") .. " lua5.4 -e "
      .. quote(script))
    assert.equal("", r.err)
    assert.equal(0, r.code)
    assert.equal("2 4\t2 4\t1 0\t-1 -2\t1.0 1.0\t1 4\tfloat32\n"
      .. "(command line):7: add: shapes (2,) and (3,) cannot be broadcast\n"
      .. "(command line):8: bad argument #2 to 'mul' (tensor or number expected, "
      .. "got string)\n", r.out)
  end)
end)
