-- install_spec.lua: `make install` into a staging folder (DESTDIR) puts a
-- working luann there (the executable, the module for lua5.4, the headers,
-- pkg-config file and man page), and `make uninstall` removes exactly that.
-- Uses the build under test (LUANN_BUILD), so nothing is compiled.
local build = os.getenv("LUANN_BUILD") or "build"

local quote = require("helpers").quote

local function capture(cmd)
  local h = assert(io.popen(cmd .. " 2>&1"))
  local out = h:read("a")
  local ok = h:close()
  return ok, out
end

local function files_under(dir)
  local list = {}
  for path in assert(io.popen("cd " .. quote(dir) .. " && find . -type f -o -type l | sort")):lines() do
    list[#list + 1] = path
  end
  return list
end

describe("make install and make uninstall", function()
  local dest = os.tmpname()
  local prefix = "/opt/luann-test"
  local make = "make -s B=" .. quote(build) .. " DESTDIR=" .. quote(dest) .. " PREFIX=" .. prefix

  setup(function()
    os.remove(dest)
    assert(os.execute("mkdir " .. quote(dest)))
  end)

  teardown(function()
    os.execute("rm -rf " .. quote(dest))
  end)

  it("installs a luann that runs, with its module, headers, pkg-config file and man page", function()
    local ok, out = capture(make .. " install")
    assert(ok, out)
    local root = dest .. prefix
    for _, f in ipairs({ "/bin/luann", "/lib/libluann.a", "/lib/libluann.so", "/lib/lua/5.4/luann.so",
      "/include/luann/luann.h", "/include/luann/luann_core.h", "/lib/pkgconfig/luann.pc",
      "/share/man/man1/luann.1", "/share/lua/5.4/luann/init.lua", "/share/lua/5.4/luann/nn/Linear.lua" }) do
      assert.is_truthy(io.open(root .. f), f .. " is not installed")
    end
    ok, out = capture(quote(root .. "/bin/luann") .. " -e 'print(luann.version, luann.ones(2):sum():item())'")
    assert(ok, out)
    assert.equal("0.1.0\t2.0\n", out)
    ok, out = capture("LUA_CPATH=" .. quote(root .. "/lib/lua/5.4/?.so") .. " LUA_PATH=';;' lua5.4 -e "
      .. quote("print(require('luann').nn.Linear(2, 3))"))
    assert(ok, out)
    assert.equal("Linear(in_features=2, out_features=3, bias=true)\n", out)
    local pc = assert(io.open(root .. "/lib/pkgconfig/luann.pc")):read("a")
    assert.matches("prefix=" .. prefix:gsub("%-", "%%-"), pc)
    local man = assert(io.open(root .. "/share/man/man1/luann.1")):read("a")
    assert.matches("%.TH LUANN 1", man)
  end)

  it("uninstalls every file it installed, and the folders of its own", function()
    local ok, out = capture(make .. " uninstall")
    assert(ok, out)
    assert.same({}, files_under(dest))
    assert.is_nil(io.open(dest .. prefix .. "/include/luann"))
    assert.is_nil(io.open(dest .. prefix .. "/share/lua/5.4/luann"))
    ok, out = capture(make .. " uninstall") -- again: nothing left to remove is fine
    assert(ok, out)
  end)
end)
