--- luann.autograd: grad mode scopes, custom functions and gradient checks.
-- @module luann.autograd

local core = require "luann.core"
local autograd = {}

local guard_mt = {
  __close = function(self) core.set_grad_enabled(self.previous) end,
}

local function mode(enabled)
  return function(fn)
    if fn == nil then -- a to-be-closed guard
      return setmetatable({ previous = core.set_grad_enabled(enabled) }, guard_mt)
    end
    if type(fn) ~= "function" then
      error("expected a function or nothing, got " .. type(fn), 2)
    end
    return function(...) -- a wrapper, like PyTorch's decorator
      local previous = core.set_grad_enabled(enabled)
      local results = table.pack(pcall(fn, ...))
      core.set_grad_enabled(previous)
      if not results[1] then error(results[2], 0) end
      return table.unpack(results, 2, results.n)
    end
  end
end

--- Disables recording. `local g <close> = luann.no_grad()` for a scope, or
-- `luann.no_grad(fn)` for a function that always runs without recording.
autograd.no_grad = mode(false)
--- Enables recording inside a no_grad scope; same two forms.
autograd.enable_grad = mode(true)

--- A custom differentiable operation written in Lua.
-- @param def table with forward(ctx, ...) -> tensor and backward(ctx, grad)
--   -> one gradient (or nil) per forward argument; optional name.
-- @return a callable object; `f(x, y)` or `f:apply(x, y)`.
-- @usage local Exp = luann.autograd.Function{
--   forward = function(ctx, x) local y = x:exp(); ctx:save_for_backward(y); return y end,
--   backward = function(ctx, g) return g * ctx.saved_tensors[1] end }
function autograd.Function(def)
  if type(def) ~= "table" or type(def.forward) ~= "function" or
      type(def.backward) ~= "function" then
    error("Function: expected a table with forward and backward functions", 2)
  end
  local fn = { forward = def.forward, backward = def.backward,
               name = def.name or "CustomFunctionBackward" }
  function fn.apply(self, ...)
    local ctx = { saved_tensors = {} }
    function ctx.save_for_backward(c, ...) c.saved_tensors = table.pack(...) end
    local args = table.pack(...)
    local previous = core.set_grad_enabled(false)
    local ok, out = pcall(self.forward, ctx, ...)
    core.set_grad_enabled(previous)
    if not ok then error(out, 0) end
    if not core.is_tensor(out) then
      error("Function: forward must return a tensor", 2)
    end
    local positions, inputs = {}, {}
    for i = 1, args.n do
      if core.is_tensor(args[i]) then
        positions[#positions + 1] = i
        inputs[#inputs + 1] = args[i]
      end
    end
    local backward = self.backward
    local function run_backward(grad)
      local grads = table.pack(backward(ctx, grad))
      local picked = {}
      for j, pos in ipairs(positions) do picked[j] = grads[pos] end
      return table.unpack(picked, 1, #positions)
    end
    return core._record_function(out, self.name, run_backward, table.unpack(inputs))
  end
  return setmetatable(fn, { __call = fn.apply })
end

local function flat_values(t)
  return t:double():reshape(-1):tolist()
end

local function projected(fn, inputs, r)
  local out = fn(table.unpack(inputs))
  local v, s = flat_values(out), 0
  for i = 1, #v do s = s + v[i] * r[i] end
  return s
end

--- Compares backward's gradients with central finite differences.
-- The output is projected on a fixed random direction r, so one backward
-- gives J^T r, checked against (f(x+eps) - f(x-eps)) . r / 2eps per element.
-- @param fn function of the inputs returning one tensor
-- @param inputs list of float64 tensors (those with requires_grad are checked)
-- @param opts {eps = 1e-6, atol = 1e-5, rtol = 1e-3}
-- @return true, or raises an error naming the input and element that differ
function autograd.gradcheck(fn, inputs, opts)
  opts = opts or {}
  local eps, atol, rtol = opts.eps or 1e-6, opts.atol or 1e-5, opts.rtol or 1e-3
  for i, x in ipairs(inputs) do
    if core.is_tensor(x) and x.requires_grad and x.dtype ~= "float64" then
      error(("gradcheck: input %d is %s; use float64 for precision"):format(i, x.dtype), 2)
    end
    if core.is_tensor(x) then x.grad = nil end
  end
  local out = fn(table.unpack(inputs))
  local gen = core.Generator(20261128)
  local r = core.randn(out.shape, { dtype = "float64", generator = gen })
  out:backward(r)
  local rv = flat_values(r)
  for i, x in ipairs(inputs) do
    if core.is_tensor(x) and x.requires_grad then
      local analytic = x.grad and flat_values(x.grad) or {}
      local guard <close> = autograd.no_grad()
      local flat = x:view(-1)
      for k = 1, #flat_values(x) do
        local orig = flat[k]
        flat[k] = orig + eps
        local plus = projected(fn, inputs, rv)
        flat[k] = orig - eps
        local minus = projected(fn, inputs, rv)
        flat[k] = orig
        local numeric, a = (plus - minus) / (2 * eps), analytic[k] or 0
        if math.abs(a - numeric) > atol + rtol * math.abs(numeric) then
          error(("gradcheck: input %d, element %d: backward gives %.8g, finite "
                 .. "differences %.8g"):format(i, k, a, numeric), 2)
        end
      end
    end
  end
  return true
end

return autograd
