-- spec/support/conv_simd_check.lua: float32 stride-1 convolutions, forward
-- and gradients, against float64 ones (the plain loops of
-- core/op_conv_direct.c), for conv_direct_spec.lua to run under each
-- LUANN_CPU_ISA. Prints the largest relative error; exits 1 above 1e-4.
local luann = require "luann"
local F = luann.nn.functional
luann.manual_seed(3)
local CASES = {
  { { 3, 1, 12, 12 }, { 6, 1, 5, 5 }, { padding = 2 } },          -- pixels in lanes
  { { 2, 6, 14, 14 }, { 16, 6, 5, 5 }, {} },                      -- channels in lanes
  { { 2, 3, 7, 19 }, { 5, 3, 2, 3 }, { padding = { 1, 0 }, dilation = { 2, 1 } } },
}
local worst = 0
local function compare(a, b)
  local d = (a:double() - b):abs():max():item()
  local scale = b:abs():max():item() + 1e-30
  worst = math.max(worst, d / scale)
end
for _, c in ipairs(CASES) do
  local x64 = luann.randn(c[1], { dtype = "float64" })
  local w64 = luann.randn(c[2], { dtype = "float64" })
  local b64 = luann.randn(c[2][1], { dtype = "float64" })
  local outs = {}
  for _, dtype in ipairs({ "float64", "float32" }) do
    local x, w, b = x64:to(dtype):detach():requires_grad_(), w64:to(dtype):detach():requires_grad_(),
      b64:to(dtype):detach():requires_grad_()
    local y = F.conv2d(x, w, b, c[3])
    y:backward(luann.ones(y.shape, { dtype = dtype }))
    outs[dtype] = { y:detach(), x.grad, w.grad, b.grad }
  end
  for i = 1, 4 do compare(outs.float32[i], outs.float64[i]) end
end
print(string.format("%s %.3g", luann.cpu.isa(), worst))
os.exit(worst <= 1e-4 and 0 or 1)
