-- doc_spec.lua: every public name of the library has a doc comment, and
-- `make doc`'s LDoc reads the C ones. The API is listed at run time
-- (luann.help.api walks luann, its packages, classes and the tensor
-- methods), so a new function without a comment fails here by name.
local luann = require "luann"
local help = require "luann.help"

local quote = require("helpers").quote

describe("doc comments", function()
  local api = help.api()

  it("list the whole API, C and Lua, with aliases once", function()
    local names = {}
    for _, item in ipairs(api) do names[item.name] = item end
    for _, n in ipairs({ "luann.matmul", "luann.tensor", "luann.nn.Linear", "luann.nn.Module:parameters",
      "luann.optim.Optimizer:zero_grad", "luann.nn.functional.cross_entropy", "luann.data.DataLoader",
      "luann.opencl.devices", "luann.cpu.threads", "Tensor:sum", "Tensor:backward", "Tensor:view" }) do
      assert.is_truthy(names[n], n .. " is not listed")
    end
    assert.is_nil(names["luann._VERSION"])
    assert.is_true(#api > 700)
  end)

  it("exist for every public function, method, class and module", function()
    local missing = {}
    for _, item in ipairs(api) do
      if help.doc_of_item(item) == nil then
        missing[#missing + 1] = item.name .. " (" .. item.kind .. ")"
      end
    end
    table.sort(missing)
    assert(#missing == 0, #missing .. " public names have no doc comment (a `---` block above the "
      .. "Lua function, or a /*** ... @function name */ block in bindings/*.c): "
      .. table.concat(missing, ", "))
  end)
end)

describe("luann.help", function()
  it("finds a C function's comment by the name it is registered under", function()
    local name, text = help.doc(luann.matmul)
    assert.equal("luann.matmul", name)
    assert.matches("^Matrix product", text)
    name, text = help.doc(luann.ones(1).sum)
    assert.equal("luann.sum", name)
    assert.matches("^Sum of the elements", text)
    name, text = help.doc(luann.ones(1).view)
    assert.equal("Tensor:view", name)
    assert.matches("same memory seen with another shape", text)
  end)

  it("finds a Lua function's comment by where it is defined", function()
    local name, text = help.doc(luann.nn.Module.parameters)
    assert.equal("luann.nn.Module:parameters", name)
    assert.is_string(text)
    name, text = help.doc(luann.nn.functional.relu)
    assert.equal("luann.nn.functional.relu", name)
    assert.equal("max(0, x).", text)
  end)

  it("gives a class its module comment, and an instance its class's", function()
    local name, text = help.doc(luann.nn.Linear)
    assert.equal("luann.nn.Linear", name)
    assert.matches("^nn%.Linear: y = x W%^T %+ b", text)
    assert.equal("luann.nn.Linear", (help.doc(luann.nn.Linear(2, 3))))
  end)

  it("takes an overridden method's comment from the base class", function()
    local name, text = help.doc(luann.nn.Linear.extra_repr)
    assert.equal("luann.nn.Linear:extra_repr", name)
    assert.equal(select(2, help.doc(luann.nn.Module.extra_repr)), text)
  end)

  it("returns nil for values outside luann", function()
    assert.is_nil(help.doc(print))
    assert.is_nil(help.doc({}))
  end)
end)

describe("make doc", function()
  local has_ldoc = os.execute("command -v ldoc >/dev/null 2>&1")
  if not has_ldoc then
    pending("needs ldoc (Debian's lua-ldoc; ./setup.sh test installs it)")
    return
  end

  it("builds the reference with every C function on luann's page", function()
    local dir = os.tmpname()
    os.remove(dir)
    local ok = os.execute("ldoc -q -d " .. quote(dir) .. " . >/dev/null 2>&1")
    assert.is_true(ok)
    local f = assert(io.open(dir .. "/modules/luann.html"))
    local page = f:read("a")
    f:close()
    os.execute("rm -rf " .. quote(dir))
    local docs = require "luann.docs"
    local absent = {}
    for key in pairs(docs) do
      -- the keys of C comments: "sum", "Tensor:view", "opencl.devices"
      if key:match("^[%w_.:]+$") and not key:match("^luann") and not key:match("^class ") then
        if not page:find('name = "' .. key .. '"', 1, true) then absent[#absent + 1] = key end
      end
    end
    table.sort(absent)
    assert(#absent == 0, "not in LDoc's luann page: " .. table.concat(absent, ", "))
  end)
end)
