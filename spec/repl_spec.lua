-- repl_spec.lua: the REPL's comforts (lua/luann/repl.lua, called by
-- bindings/main.c): locals that last from line to line, readable tables and
-- modules, help(x), and tab completion through metatables. The first three
-- run `luann -i` on a pipe; completion needs a terminal (util-linux
-- `script`, as in cli_spec.lua).
local luann = require "luann"
local repl = require "luann.repl"
local helpers = require "helpers"

local build = os.getenv("LUANN_BUILD") or "build"
local exe = build .. "/luann"

local quote = require("helpers").quote

-- Runs `luann -i` with input on a pipe; returns stdout, stderr.
local function pipe(input)
  local in_path, out_path, err_path = os.tmpname(), os.tmpname(), os.tmpname()
  helpers.write_file(in_path, input)
  os.execute(quote(exe) .. " -i <" .. in_path .. " >" .. out_path .. " 2>" .. err_path)
  local out, err = helpers.read_file(out_path), helpers.read_file(err_path)
  os.remove(in_path)
  os.remove(out_path)
  os.remove(err_path)
  return out, err
end

describe("the REPL", function()
  describe("locals", function()
    local out, err = nil, nil
    setup(function()
      out, err = pipe(table.concat({
        "local y = 5",
        "y",
        "local a, b = 1, 2",
        "a + b",
        "local function sq(x) local inner = x * x return inner end",
        "sq(y)",
        "inner",                              -- a function's local stays inside it
        "for i = 1, 2 do local w = i end",
        "w",                                  -- so does a loop's
        "y = y + 1",
        "y, rawget(_G, 'y')",                 -- assigned as a local, not a global
        "local c",
        "c",
        "local z <const> = 7",                -- attributes keep their scope: this line only
        "z",
        "g = 'global'",
        "g, rawget(_G, 'g')",
        "",
      }, "\n"))
    end)

    it("last from line to line, as further down a script", function()
      assert.equal("", err)
      local lines = {}
      for l in out:gmatch("> ([^\n>][^\n]*)") do lines[#lines + 1] = l end
      assert.same({ "5", "3", "25", "nil", "nil", "6\tnil", "nil", "nil", "global\tglobal" }, lines)
    end)
  end)

  describe("printing", function()
    it("shows tables as their contents, modules as their structure", function()
      local out, err = pipe(table.concat({
        "{1, 2, x = 3, s = 'hi', t = {4, {5}}}",
        "{}",
        "luann.nn.Sequential(luann.nn.Linear(2, 3), luann.nn.ReLU())",
        "'plain', 42",
        "",
      }, "\n"))
      assert.equal("", err)
      assert.truthy(out:find('> {1, 2, s = "hi", t = {4, {5}}, x = 3}\n', 1, true))
      assert.truthy(out:find("> {}\n", 1, true))
      assert.truthy(out:find("> Sequential(\n  (1): Linear(in_features=2, out_features=3, bias=true)\n"
        .. "  (2): ReLU()\n)\n", 1, true))
      assert.truthy(out:find("> plain\t42\n", 1, true))
    end)

    it("cuts long and cyclic tables short", function()
      local t = { 1 }
      t.self = t
      assert.equal("{1, self = {...}}", repl.repr(t))
      local long = {}
      for i = 1, 100 do long[i] = i end
      assert.matches("^{\n  1,\n  2,\n.*40,\n  %.%.%.\n}$", repl.repr(long))
    end)
  end)

  describe("help", function()
    it("prints the doc comment of a function, class or object", function()
      local out, err = pipe("help(luann.matmul)\nhelp(luann.nn.Linear(2, 2))\nhelp()\nhelp(print)\n")
      assert.equal("", err)
      assert.truthy(out:find("luann.matmul\n\nMatrix product with PyTorch's rules", 1, true))
      assert.truthy(out:find("luann.nn.Linear\n\nnn.Linear: y = x W^T + b", 1, true))
      assert.truthy(out:find("help(x) prints the documentation of x", 1, true))
      assert.truthy(out:find("help: no documentation for this function (not part of luann)", 1, true))
    end)
  end)

  describe("completion", function()
    setup(function()
      _G.repl_m = luann.nn.Sequential(luann.nn.Linear(2, 3))
      _G.repl_opt = luann.optim.SGD(_G.repl_m:parameters(), { lr = 0.1 })
      _G.repl_t = luann.ones(2)
      _G.repl_nn = luann.nn
    end)
    teardown(function()
      _G.repl_m, _G.repl_opt, _G.repl_t, _G.repl_nn = nil, nil, nil, nil
    end)

    it("finds a module's methods through its class chain", function()
      assert.same({ "repl_m:parameters" }, repl.complete("repl_m:parameter"))
      assert.same({ "repl_m:named_parameters" }, repl.complete("repl_m:named_par"))
      local eval = repl.complete("repl_m:ev")
      assert.same({ "repl_m:eval" }, eval)
    end)

    it("finds a module's children and parameters as fields", function()
      assert.same({ "repl_m.1" }, repl.complete("repl_m.1"))
      assert.same({ "repl_m.1.weight" }, repl.complete("repl_m.1.wei"))
    end)

    it("finds an optimizer's methods", function()
      assert.same({ "repl_opt:zero_grad" }, repl.complete("repl_opt:ze"))
      assert.same({ "repl_opt:step" }, repl.complete("repl_opt:ste"))
    end)

    it("finds a tensor's fields and methods", function()
      assert.same({ "repl_t.shape" }, repl.complete("repl_t.sha"))
      assert.same({ "repl_t.dtype" }, repl.complete("repl_t.dty"))
      assert.same({ "repl_t.grad", "repl_t.grad_fn" }, repl.complete("repl_t.gra"))
      assert.same({ "repl_t:reshape", "repl_t:reshape_as" }, repl.complete("repl_t:res"))
    end)

    it("completes globals and fields, and nothing past a value that raises", function()
      assert.same({ "string.format" }, repl.complete("string.form"))
      assert.same({ "repl_opt" }, repl.complete("repl_o"))
      assert.same({}, repl.complete("repl_m.nosuch.x"))
      assert.same({}, repl.complete("repl_nn.NoSuchLayer.x")) -- nn's __index raises
      assert.same({ "repl_nn.Linear" }, repl.complete("repl_nn.Linea"))
    end)
  end)
end)

-- The same through a terminal: `script` runs luann on a pseudo-terminal and
-- feeds it keys, Tab included (see cli_spec.lua).
local has_pty = os.execute("command -v timeout >/dev/null 2>&1")
  and os.execute("script -qec true /dev/null </dev/null >/dev/null 2>&1")

describe("the REPL on a terminal", function()
  if not has_pty then
    pending("needs util-linux script, a pseudo-terminal and coreutils timeout")
    return
  end

  it("completes methods and fields with Tab, and keeps locals", function()
    local marker = os.tmpname()
    os.remove(marker)
    local in_path = os.tmpname()
    helpers.write_file(in_path, table.concat({
      "local m = luann.nn.Linear(2, 7)",
      "#m:paramet\t() * 100",
      "local opt = luann.optim.SGD(m:parameters(), {lr = 0.1})",
      "opt:zero_g\t() or 'zeroed'",
      "m.weig\t.shape[1] * 1000",
      "local t = luann.ones(2, {dtype = 'float64'})",
      "t.dty\t",
      string.format("io.open(%q, 'w'):close()", marker),
      "",
    }, "\n"))
    local feed = "{ cat " .. quote(in_path) .. "; i=0; while [ ! -e " .. quote(marker)
      .. " ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; }"
    local out_path = os.tmpname()
    os.execute("(" .. feed .. " | env TERM=dumb LUANN_HISTORY= timeout 60 script -qec "
      .. quote(quote(exe)) .. " /dev/null) >" .. out_path .. " 2>&1")
    local out = helpers.read_file(out_path):gsub("\r", ""):gsub("\27%[[%d;?]*%a", "")
    os.remove(in_path)
    os.remove(out_path)
    os.remove(marker)
    assert.truthy(out:find("\n200\n", 1, true), out)
    assert.truthy(out:find("\nzeroed\n", 1, true), out)
    assert.truthy(out:find("\n7000\n", 1, true), out)
    assert.truthy(out:find("\nfloat64\n", 1, true), out)
  end)
end)
