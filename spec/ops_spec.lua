-- The op table (core/op.h) as Lua sees it: how every row's arguments are
-- read (bindings/lops.c), and the primitive ops built on it: unfold (a
-- view) with its backward kernel, and cumsum/cumprod, on the CPU and on
-- OpenCL.
local luann = require "luann"
local cmp = require "opencl_compare"

local gradcheck = luann.autograd.gradcheck

local function f64(t, grad)
  return luann.tensor(t, { dtype = "float64", requires_grad = grad })
end

local function err(f, ...)
  local ok, msg = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(msg)
end

describe("the op table's arguments", function()
  local x = luann.arange(1, 13, { dtype = "float64" }):view(1, 1, 3, 4)
  local w = luann.ones(1, 1, 2, 2, { dtype = "float64" })

  it("reads parameters by position or by name, sizes as a number or a list", function()
    local a = luann.conv2d(x, w, nil, 2, { 1, 0 })
    local b = luann.conv2d(x, w, { stride = { 2, 2 }, padding = { 1, 0 } })
    local c = luann.conv2d(x, w, nil, { stride = 2, padding = { 1, 0 } })
    assert.same({ 1, 1, 2, 2 }, a.shape)
    assert.same(a:tolist(), b:tolist())
    assert.same(a:tolist(), c:tolist())
    -- top-left window over padding: 0 + 0 + 1 + 2
    assert.equal(3, a[1][1][1][1])
  end)

  it("takes an input by name in the options", function()
    local bias = luann.tensor({ 10 }, { dtype = "float64" })
    local y = luann.conv2d(x, w, { bias = bias })
    assert.equal(1 + 2 + 5 + 6 + 10, y[1][1][1][1])
  end)

  it("names an unknown option and lists the known ones", function()
    assert.matches("conv2d: unknown option 'strid' %(it takes input, weight, bias, stride, padding, dilation, groups%)",
      err(luann.conv2d, x, w, { strid = 2 }))
  end)

  it("names a parameter of the wrong type, a list of the wrong length and a bad word", function()
    assert.matches("conv2d: stride must be an integer or a list, got string", err(luann.conv2d, x, w, nil, "2"))
    assert.matches("conv2d: stride must have 2 numbers, got 3", err(luann.conv2d, x, w, { stride = { 1, 1, 1 } }))
    assert.matches("conv2d: padding must be one of 'valid', 'same', got 'full'",
      err(luann.conv2d, x, w, { padding = "full" }))
    assert.matches("conv2d: groups must be an integer, got 1.5", err(luann.conv2d, x, w, { groups = 1.5 }))
    assert.matches("pad: mode must be one of 'constant', 'reflect', 'replicate', 'circular', got 'wrap'",
      err(luann.pad, x, { 1, 1 }, "wrap"))
  end)

  it("names a missing tensor or a missing required parameter", function()
    assert.matches("conv2d: missing weight", err(luann.conv2d, x))
    assert.matches("bad argument #2 to '[%w.]*conv2d' %(weight must be a tensor, got string%)",
      err(luann.conv2d, x, "w"))
    assert.matches("cumsum: missing dim", err(luann.cumsum, x))
    assert.matches("bad argument #1 to '[%w.]*cumsum' %(input must be a tensor, got string%)",
      err(luann.cumsum, "x", 1))
    assert.matches("bad argument #3 to '[%w.]*conv2d' %(bias must be a tensor or nil, got boolean%)",
      err(luann.conv2d, x, w, true))
  end)

  it("refuses extra arguments", function()
    assert.matches("pad: too many arguments", err(luann.pad, x, { 1, 1 }, "constant", 0, 5))
  end)

  it("reads a list as a table, one number, or (varargs) the last numbers", function()
    local t = f64({ { 1, 2 }, { 3, 4 } })
    assert.same({ { 4, 3 }, { 2, 1 } }, t:flip(1, 2):tolist())
    assert.same({ { 4, 3 }, { 2, 1 } }, luann.flip(t, { 1, -1 }):tolist())
    assert.same({ { 3, 4 }, { 1, 2 } }, luann.flip(t, 1):tolist())
    assert.same({ { 2, 1 }, { 4, 3 } }, t:roll(1, 2):tolist())
    assert.same({ 4, 2 }, t:tile(2, 1, { }).shape)
    assert.matches("tile: dims must have at most 8 numbers, got 9", err(t.tile, t, 1, 1, 1, 1, 1, 1, 1, 1, 1))
    assert.matches("flip: dims must be a dim from 1", err(t.flip, t, { 1, 0 }))
    assert.matches("flip: dims must be a list of dims, got string", err(t.flip, t, { 1, "a" }))
    assert.matches("flip: dims 10 is out of range", err(t.flip, t, 10))
    assert.matches("roll: too many arguments", err(t.roll, t, 1, 2, 3))
  end)

  it("takes dims 1-based and negative, never 0", function()
    local t = f64({ { 1, 2 }, { 3, 4 } })
    assert.same({ { 1, 3 }, { 3, 7 } }, t:cumsum(-1):tolist())
    assert.same({ { 1, 2 }, { 4, 6 } }, t:cumsum(1):tolist())
    assert.matches("cumsum: dim must be a dim from 1", err(t.cumsum, t, 0))
    assert.matches("cumsum: dim 3 out of range for a tensor of 2 dims", err(t.cumsum, t, 3))
  end)
end)

describe("unfold", function()
  it("gives sliding windows as a strided view of the same storage", function()
    local t = luann.arange(1, 8, { dtype = "float64" })
    local u = t:unfold(1, 3, 2)
    assert.same({ 3, 3 }, u.shape)
    assert.same({ 2, 1 }, u:stride())
    assert.same({ { 1, 2, 3 }, { 3, 4, 5 }, { 5, 6, 7 } }, u:tolist())
    t[3] = 30 -- overlapping windows see one element
    assert.equal(30, u[1][3])
    assert.equal(30, u[2][1])
  end)

  it("takes a dilation and windows of any dim", function()
    local t = luann.arange(1, 13, { dtype = "float64" }):view(3, 4)
    assert.same({ { { 1, 3 }, { 2, 4 } }, { { 5, 7 }, { 6, 8 } }, { { 9, 11 }, { 10, 12 } } },
      t:unfold(2, 2, 1, 2):tolist())
    assert.same({ { { 1, 5 }, { 2, 6 }, { 3, 7 }, { 4, 8 } }, { { 5, 9 }, { 6, 10 }, { 7, 11 }, { 8, 12 } } },
      t:unfold(1, 2, 1):tolist())
  end)

  it("sums each window back in backward, overlaps included", function()
    local t = f64({ 1, 2, 3, 4, 5 }, true)
    t:unfold(1, 3, 1):sum():backward()
    assert.same({ 1, 2, 3, 2, 1 }, t.grad:tolist())
    local s = f64({ 1, 2, 3, 4, 5, 6 }, true)
    s:unfold(1, 2, 3):sum():backward() -- windows {1,2} and {4,5}: 3 and 6 unread
    assert.same({ 1, 1, 0, 1, 1, 0 }, s.grad:tolist())
  end)

  it("passes gradcheck with steps, dilations and two unfolds", function()
    local t = luann.randn(5, 6, { dtype = "float64", requires_grad = true })
    assert.is_true(gradcheck(function(a) return a:unfold(1, 2, 2, 2) end, { t }))
    assert.is_true(gradcheck(function(a) return a:unfold(2, 3, 1):unfold(1, 2, 3) end, { t }))
    assert.is_true(gradcheck(function(a) return a:t():unfold(2, 2, 1) end, { t }))
  end)

  it("names the sizes when a window does not fit", function()
    local t = luann.zeros(2, 4)
    assert.matches("unfold: a window of size 5 %(dilation 1%) does not fit in dim 2 of size 4",
      err(t.unfold, t, 2, 5, 1))
    assert.matches("unfold: a window of size 3 %(dilation 2%) does not fit", err(t.unfold, t, 2, 3, 1, 2))
    assert.matches("unfold: size, step and dilation must be positive", err(t.unfold, t, 2, 2, 0))
    assert.matches("unfold: cannot unfold a 0%-dim tensor", err(luann.unfold, luann.tensor(1), 1, 1))
  end)
end)

describe("cumsum and cumprod", function()
  it("match hand-computed running sums and products along any dim", function()
    local t = f64({ { 1, 2, 3 }, { 4, 0, 6 } })
    assert.same({ { 1, 3, 6 }, { 4, 4, 10 } }, t:cumsum(2):tolist())
    assert.same({ { 1, 2, 3 }, { 5, 2, 9 } }, t:cumsum(1):tolist())
    assert.same({ { 1, 2, 6 }, { 4, 0, 0 } }, t:cumprod(2):tolist())
    assert.same({ { 1, 2, 3 }, { 4, 0, 18 } }, t:t():cumprod(2):t():tolist())
  end)

  it("give int64 for integer and bool inputs, as PyTorch", function()
    local b = luann.tensor({ true, false, true })
    assert.equal("int64", b:cumsum(1).dtype)
    assert.same({ 1, 1, 2 }, b:cumsum(1):tolist())
    local i = luann.tensor({ 3, 2, 5 }, { dtype = "uint8" })
    assert.same({ 3, 6, 30 }, i:cumprod(1):tolist())
    assert.equal("float32", luann.ones(2):cumsum(1).dtype)
  end)

  it("handle 0-dim and empty tensors", function()
    assert.equal(4, luann.tensor(4):cumsum(1):item())
    assert.same({ 0, 3 }, luann.zeros(0, 3):cumprod(1).shape)
  end)

  it("pass gradcheck, cumprod with zeros in the input (no division)", function()
    local x = luann.randn(3, 4, { dtype = "float64", requires_grad = true })
    assert.is_true(gradcheck(function(a) return a:cumsum(2) end, { x }))
    assert.is_true(gradcheck(function(a) return a:cumprod(1) end, { x }))
    local z = f64({ { 0, 2, 0, 3 }, { 3, 0, 5, 1 } }, true)
    assert.is_true(gradcheck(function(a) return a:cumprod(2) end, { z }))
    assert.is_true(gradcheck(function(a) return a:t():cumprod(1) end, { z }))
  end)

  it("give cumprod's gradient exactly at a zero", function()
    -- y = (x1, x1 x2, x1 x2 x3) at (2, 0, 3): d(sum y)/dx2 = x1 + x1 x3 = 8
    local x = f64({ 2, 0, 3 }, true)
    x:cumprod(1):sum():backward()
    assert.same({ 1, 8, 0 }, x.grad:tolist())
  end)
end)

describe("primitive ops on OpenCL #opencl", function()
  if not cmp.HAVE then return end
  local both = cmp.both

  it("cumsum and cumprod match the CPU, forward and backward", function()
    local x = luann.randn(3, 5, 4)
    both(function(a) return a:cumsum(2) end, { x }, { grad = true })
    both(function(a) return a:cumprod(3) end, { x }, { grad = true })
    both(function(a) return a:transpose(1, 3):cumprod(1) end, { x }, { grad = true })
    both(function(a) return a:cumsum(1) end, { luann.randn(4, 3, { dtype = "float64" }) }, { grad = true })
    both(function(a) return a:cumsum(2) end, { luann.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, { dtype = "int64" }) })
    both(function(a) return a:cumsum(1) end, { luann.tensor({ true, false, true }) })
  end)

  it("unfold's backward kernel matches the CPU, overlapping and strided", function()
    local x = luann.randn(2, 9, 7)
    both(function(a) return a:unfold(2, 3, 1) end, { x }, { grad = true })
    both(function(a) return a:unfold(3, 2, 3, 2):unfold(2, 4, 2) end, { x }, { grad = true })
    both(function(a) return a:transpose(2, 3):unfold(3, 5, 2) end, { x }, { grad = true })
  end)
end)

describe("the op table's rows under hostile numbers", function()
  it("refuse dims, sizes and amounts past int64's or the core's range", function()
    local t = luann.zeros(3)
    assert.matches("unfold: dimension 2147483648 is out of range", err(luann.unfold, t, 1 << 31, 1))
    assert.same({ 1, 1 }, t:unfold(1, 1, 1 << 62).shape) -- one window: its step is never taken
    assert.matches("does not fit", err(t.unfold, t, 1, 1 << 62, 1, 1 << 62))
    assert.matches("pad: amounts %(%-9223372036854775808, 0%) crop more than dim 2's size 3",
      err(luann.pad, luann.zeros(1, 3), { math.mininteger, 0 }))
    assert.matches("conv2d: strides, paddings, dilations and sizes must be at most 2%^20",
      err(luann.conv2d, luann.zeros(1, 1, 3, 3), luann.zeros(1, 1, 2, 2), nil, { dilation = math.maxinteger }))
    assert.matches("conv_transpose2d: strides, paddings, dilations and sizes must be at most 2%^20",
      err(luann.conv_transpose2d, luann.zeros(1, 1, 3, 3), luann.zeros(1, 1, 2, 2), nil, { stride = 1 << 40 }))
  end)
end)
