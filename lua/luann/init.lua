--- luann: a deep learning engine with a C core and Lua 5.4 as its language.
-- `local luann = require "luann"` gives tensors, autograd, and (loaded on
-- first use) `luann.nn`, `luann.optim`, `luann.data`, `luann.utils`,
-- `luann.image` (PNG files), `luann.plot` (line plots), `luann.safetensors`
-- and `luann.numpy` (other programs' tensor files).
-- Names and semantics follow PyTorch where Lua allows; dims and indices
-- are 1-based as in Lua and Torch7, negative ones count from the end.
-- @module luann

local core = require "luann.core"
local luann = core -- the C table is the library; Lua parts are added here

luann.autograd = require "luann.autograd"
luann.no_grad = luann.autograd.no_grad
luann.enable_grad = luann.autograd.enable_grad
luann.einsum = require "luann.einsum"

-- OpenCL devices (bindings/ldevice.c); LUANN_DEVICE=opencl (or opencl:N,
-- cpu) makes that the default device of new tensors.
luann.opencl = core._opencl_module()
luann.cpu = core._cpu_module()
local env_device = os.getenv("LUANN_DEVICE")
if env_device and env_device ~= "" then
  local ok, dev = pcall(core.device, env_device)
  if not ok then error("LUANN_DEVICE: " .. tostring(dev), 0) end
  core.set_default_device(dev)
end

--- Whether two tensors have the same shape and all elements within
-- atol + rtol * |b| of each other.
-- @param a tensor
-- @param b tensor
-- @param rtol relative tolerance (default 1e-5)
-- @param atol absolute tolerance (default 1e-8)
-- @return boolean
function luann.allclose(a, b, rtol, atol)
  rtol, atol = rtol or 1e-5, atol or 1e-8
  local sa, sb = a.shape, b.shape
  if #sa ~= #sb then return false end
  for i = 1, #sa do
    if sa[i] ~= sb[i] then return false end
  end
  local fa = a:double():reshape(-1):tolist()
  local fb = b:double():reshape(-1):tolist()
  for i = 1, #fa do
    local x, y = fa[i], fb[i]
    if x ~= y and not (math.abs(x - y) <= atol + rtol * math.abs(y)) then
      return false
    end
  end
  return true
end

-- luann.save and luann.load choose the format by the file's extension
-- (luann's own checkpoints, safetensors, .npy, .npz): luann.serialization.
do
  local serialization = require "luann.serialization"
  luann.save, luann.load = serialization.save, serialization.load
end

-- Sub-packages load on first use, so `require "luann"` stays cheap; so do
-- the functions written in Lua on top of the library (their module adds
-- them to it).
local packages = { nn = true, optim = true, data = true, utils = true, distributions = true,
  image = true, plot = true, safetensors = true, numpy = true, numbering = true }
local functions = { multinomial = "luann.sampling", bernoulli = "luann.sampling" }
return setmetatable(luann, {
  lazy_functions = functions, -- for tools that list every function
  __index = function(t, key)
    if packages[key] then
      local m = require("luann." .. key)
      rawset(t, key, m)
      return m
    end
    if functions[key] then
      require(functions[key])
      return rawget(t, key)
    end
  end,
})
