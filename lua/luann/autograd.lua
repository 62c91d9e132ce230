--- luann.autograd: grad mode and anomaly mode scopes, custom functions and
-- gradient checks.
-- @module luann.autograd

local core = require "luann.core"
local autograd = {}

local guard_mt = {
  __close = function(self) self.set(self.previous) end,
}

-- A mode switched by set(value) (which returns the previous setting), as a
-- to-be-closed scope or a function wrapper; both restore the previous
-- setting on the way out, errors included, so scopes nest.
local function mode(set, value)
  return function(fn)
    if fn == nil then -- a to-be-closed guard
      return setmetatable({ set = set, previous = set(value) }, guard_mt)
    end
    if type(fn) ~= "function" then
      error("expected a function or nothing, got " .. type(fn), 2)
    end
    return function(...) -- a wrapper, like PyTorch's decorator
      local previous = set(value)
      local results = table.pack(pcall(fn, ...))
      set(previous)
      if not results[1] then error(results[2], 0) end
      return table.unpack(results, 2, results.n)
    end
  end
end

--- Disables recording. `local g <close> = luann.no_grad()` for a scope, or
-- `luann.no_grad(fn)` for a function that always runs without recording.
autograd.no_grad = mode(core.set_grad_enabled, false)
--- Enables recording inside a no_grad scope; same two forms.
autograd.enable_grad = mode(core.set_grad_enabled, true)

--- Anomaly mode, for finding where NaN and Inf start. While it is on, an op
-- whose result holds a NaN or Inf that none of its tensor arguments held
-- raises an error naming it, with the traceback of the call (values the
-- user wrote, through creation functions, and in-place ops are not
-- checked); backward raises at the first node whose gradient holds one,
-- naming the op and giving the traceback of the forward call that recorded
-- it. Slow: debugging only.
-- `local a <close> = luann.autograd.detect_anomaly()` for a scope, or
-- `detect_anomaly(fn)` for a function that always runs in anomaly mode.
autograd.detect_anomaly = mode(core.set_anomaly_enabled, true)

--- Turns anomaly mode on or off. @return the previous setting
function autograd.set_detect_anomaly(on)
  if type(on) ~= "boolean" then
    error("set_detect_anomaly: expected a boolean, got " .. type(on), 2)
  end
  return core.set_anomaly_enabled(on)
end

--- Whether anomaly mode is on.
autograd.is_anomaly_enabled = core.is_anomaly_enabled

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

local function projected(fn, inputs, n, r)
  local out = fn(table.unpack(inputs, 1, n))
  local v, s = flat_values(out), 0
  for i = 1, #v do s = s + v[i] * r[i] end
  return s
end

local function callable(f)
  local mt = getmetatable(f)
  return type(f) == "function" or (type(mt) == "table" and mt.__call ~= nil)
end

--- Compares backward's gradients with central finite differences.
-- The output is projected on a fixed random direction r, so one backward
-- gives J^T r, checked against (f(x+eps) - f(x-eps)) . r / 2eps per element.
-- Only elements are visited, never dims: an empty input costs nothing.
-- @param fn function of the inputs returning one tensor
-- @param inputs one tensor, or a list of float64 tensors and other values
--   (the tensors with requires_grad are checked)
-- @param opts {eps = 1e-6, atol = 1e-5, rtol = 1e-3}
-- @return true, or raises an error naming the input and element that differ
function autograd.gradcheck(fn, inputs, opts)
  if not callable(fn) then
    error("gradcheck: fn must be a function, got " .. type(fn), 2)
  end
  if core.is_tensor(inputs) then inputs = { inputs } end
  if type(inputs) ~= "table" then
    error("gradcheck: inputs must be a tensor or a list, got " .. type(inputs), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("gradcheck: opts must be a table, got " .. type(opts), 2)
  end
  opts = opts or {}
  -- required here: luann.utils.check needs luann, which loads this file
  require("luann.utils.check").known_options("gradcheck", opts,
    { eps = true, atol = true, rtol = true }, 2)
  local eps, atol, rtol = opts.eps or 1e-6, opts.atol or 1e-5, opts.rtol or 1e-3
  -- Read once, raw: a proxy's __len or __index must not drive the loops.
  local n, list, checked = rawlen(inputs), {}, 0
  for i = 1, n do
    local x = rawget(inputs, i)
    list[i] = x
    if core.is_tensor(x) and x.requires_grad then
      if x.dtype ~= "float64" then
        error(("gradcheck: input %d is %s; use float64 for precision"):format(i, x.dtype), 2)
      end
      checked = checked + 1
    end
    if core.is_tensor(x) then x.grad = nil end
  end
  if checked == 0 then
    error("gradcheck: no input requires grad (call requires_grad_() on those to check)", 2)
  end
  local out = fn(table.unpack(list, 1, n))
  if not core.is_tensor(out) then
    error("gradcheck: fn must return a tensor, got " .. type(out), 2)
  end
  local gen = core.Generator(20261128)
  local r = core.randn(out.shape, { dtype = "float64", generator = gen })
  out:backward(r)
  local rv = flat_values(r)
  for i = 1, n do
    local x = list[i]
    if core.is_tensor(x) and x.requires_grad then
      local analytic = x.grad and flat_values(x.grad) or {}
      local guard <close> = autograd.no_grad()
      local flat = x:view(-1)
      for k = 1, x:numel() do
        local orig = flat[k]
        flat[k] = orig + eps
        local plus = projected(fn, list, n, rv)
        flat[k] = orig - eps
        local minus = projected(fn, list, n, rv)
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

--- The gradients of outputs with respect to inputs, as PyTorch's
-- torch.autograd.grad; no .grad is touched.
-- @usage local gx = autograd.grad(y:sum(), x)[1]
-- -- gradient penalty (WGAN-GP): the gradient keeps its history
-- local g = autograd.grad(critic(xhat):sum(), xhat, { create_graph = true })[1]
-- @param outputs a tensor or a list of tensors
-- @param inputs a tensor or a list of tensors that require grad
-- @param opts {grad_outputs = nil (a tensor or list: the weights of each
--   output; nil means ones for a one-element output), retain_graph = false,
--   create_graph = false (record the backward pass, for double backward),
--   allow_unused = false (nil for an input the outputs do not use)}
-- @return a list with one gradient per input (field n: how many)
function autograd.grad(outputs, inputs, opts)
  return core._grad(outputs, inputs, opts)
end

--- Checks second derivatives: gradcheck of the function
-- x -> d(fn(x) . r)/dx for a fixed random r, whose backward is a double
-- backward through fn (create_graph).
-- @param fn function of the inputs returning one tensor
-- @param inputs as gradcheck's
-- @param opts as gradcheck's
-- @return true, or raises an error naming the input and element that differ
function autograd.gradgradcheck(fn, inputs, opts)
  if not callable(fn) then
    error("gradgradcheck: fn must be a function, got " .. type(fn), 2)
  end
  if core.is_tensor(inputs) then inputs = { inputs } end
  if type(inputs) ~= "table" then
    error("gradgradcheck: inputs must be a tensor or a list, got " .. type(inputs), 2)
  end
  local r
  local function first_derivative(...)
    local args, xs = table.pack(...), {}
    for i = 1, args.n do
      local x = args[i]
      if core.is_tensor(x) and x.requires_grad then xs[#xs + 1] = x end
    end
    local previous = core.set_grad_enabled(true) -- gradcheck probes under no_grad
    local ok, result = pcall(function()
      local out = fn(table.unpack(args, 1, args.n))
      r = r or core.randn(out.shape, { dtype = "float64", generator = core.Generator(20261207) })
      local gs = autograd.grad(out, xs, { grad_outputs = r, create_graph = true,
        allow_unused = true })
      local parts = {}
      for i = 1, #xs do
        parts[i] = (gs[i] or core.zeros_like(xs[i])):reshape(-1)
      end
      return core.cat(parts)
    end)
    core.set_grad_enabled(previous)
    if not ok then error(result, 0) end
    return result
  end
  local ok, err = pcall(autograd.gradcheck, first_derivative, inputs, opts)
  if not ok then error((tostring(err):gsub("gradcheck:", "gradgradcheck:", 1)), 0) end
  return true
end

return autograd
