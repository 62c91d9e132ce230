-- ReLU's backward in one kernel (core/op_relu_grad.c): the gradient passes
-- where the output is positive and is zero elsewhere (a NaN output passes
-- nothing), for float32 and float64, contiguous or strided gradients;
-- create_graph keeps the recorded path; OpenCL agrees with the CPU.
local luann = require "luann"
local cmp = require "opencl_compare"
local helpers = require "helpers"
local F = luann.nn.functional

describe("relu backward", function()
  it("passes the gradient where the output is positive", function()
    for _, dtype in ipairs({ "float32", "float64" }) do
      local x = luann.tensor({ -2, -0.0, 0, 0.5, 3, 0 / 0, math.huge, -math.huge },
        { dtype = dtype, requires_grad = true })
      local g = luann.tensor({ 1, 2, 3, 4, 5, 6, 7, 0 / 0 }, { dtype = dtype })
      F.relu(x):backward(g)
      local got = helpers.values(x.grad)
      local want = { 0, 0, 0, 4, 5, 0, 7, 0 }
      for i = 1, #want do assert.are.equal(want[i], got[i], "element " .. i) end
      assert.are.equal(dtype, x.grad.dtype)
    end
  end)

  it("takes strided and broadcast gradients", function()
    local x = luann.randn(5, 7, { requires_grad = true })
    local g = luann.randn(7, 5):t()
    F.relu(x):backward(g)
    local want = luann.where(x:detach():gt(0), g, luann.zeros(5, 7))
    assert.are.same(want:tolist(), x.grad:tolist())
    local x2 = luann.randn(4, 6, { dtype = "float64", requires_grad = true })
    F.relu(x2):sum():backward() -- the gradient of sum: an expanded one
    assert.are.same(x2:detach():gt(0):double():tolist(), x2.grad:tolist())
  end)

  it("records under create_graph (double backward)", function()
    local x = luann.randn(6, { dtype = "float64", requires_grad = true })
    assert.is_true(luann.autograd.gradgradcheck(function(a) return F.relu(a) * a end, { x }))
  end)

  it("agrees on OpenCL #opencl", function()
    if not cmp.HAVE then return pending("no OpenCL device") end
    for _, dtype in ipairs({ "float32", "float64" }) do
      cmp.both(function(a) return F.relu(a) * 1 end, { luann.randn({ 33, 65 }, { dtype = dtype }) },
        { grad = true })
    end
  end)
end)
