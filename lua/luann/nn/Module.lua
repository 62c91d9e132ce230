--- nn.Module: the base class of every layer and model.
--
-- Defining a model:
--
--    local SimpleNN = nn.Module:extend("SimpleNN")
--    function SimpleNN:__init()
--      self.fc1 = nn.Linear(28 * 28, 128)   -- a Module assigned: a child
--      self.fc2 = nn.Linear(128, 10)
--    end
--    function SimpleNN:forward(x)
--      return self.fc2(luann.relu(self.fc1(x:view(-1, 28 * 28))))
--    end
--    local model = SimpleNN()                -- runs __init
--    local out = model(images)               -- calling a module calls forward
--
-- The module's bookkeeping exists before `__init` runs, so calling
-- `SimpleNN.super.__init(self)` is optional; a class extending a layer that
-- has its own `__init` (say Linear) calls `Class.super.__init(self, ...)`.
-- Assigning `nn.Parameter(t)` registers a parameter, a Module a child, and
-- `self:register_buffer(name, t)` a buffer (state saved with the model but
-- not trained, like running statistics); assigning nil removes one. Names
-- keep their insertion order: named_parameters() gives "fc1.weight",
-- "fc1.bias", "fc2.weight", ... in the order they were assigned.
-- Lua only sees assignments to absent fields, so a name first given a plain
-- value (self.fc = false) stays a plain field; use add_module or
-- register_parameter to turn it into a child or parameter later.
local luann = require "luann"
local class = require "luann.utils.class"
local check = require "luann.utils.check"
local Parameter = require "luann.nn.Parameter"
local warn_once = require "luann.utils.warn_once"
local numbering = require "luann.numbering"

local unchecked = class.unchecked
local Module = class.new("Module")
Module.__self_name = "m" -- for the hint of a '.' call: m:method()
Module.__luann_module = true

-- An ordered map: keys in insertion order plus a lookup table.
local function od_new() return { keys = {}, map = {} } end

local function od_set(od, k, v)
  if od.map[k] == nil then od.keys[#od.keys + 1] = k end
  od.map[k] = v
end

local function od_del(od, k)
  if od.map[k] == nil then return end
  od.map[k] = nil
  for i, key in ipairs(od.keys) do
    if key == k then table.remove(od.keys, i) break end
  end
end

function Module.__new(cls)
  return setmetatable({ _parameters = od_new(), _buffers = od_new(),
    _modules = od_new(), _non_persistent = {}, training = true }, cls)
end

--- Whether v is a module instance.
-- @param v any value
-- @return boolean
function Module.is_module(v)
  local mt = getmetatable(v)
  return type(v) == "table" and type(mt) == "table" and mt.__luann_module == true
    and rawget(v, "_modules") ~= nil
end

-- Parameters, then children, then buffers, then the class's methods.
function Module.__index(self, k)
  local v = rawget(self, "_parameters").map[k]
  if v ~= nil then return v end
  v = rawget(self, "_modules").map[k]
  if v ~= nil then return v end
  v = rawget(self, "_buffers").map[k]
  if v ~= nil then return v end
  return getmetatable(self)[k]
end

local function check_name(fname, name, level)
  if type(name) == "number" and math.type(name) == "integer" then name = tostring(name) end
  if type(name) ~= "string" then
    check.error(string.format("%s: name must be a string, got %s", fname, class.typename(name)), level + 1)
  elseif name == "" or name:find(".", 1, true) then
    check.error(string.format("%s: name can't be empty or contain \".\" (got \"%s\")", fname, name), level + 1)
  end
  return name
end

function Module.__newindex(self, k, v)
  local params, mods, bufs = self._parameters, self._modules, self._buffers
  if Parameter.is_parameter(v) then
    k = check_name("Module", k, 2)
    od_del(mods, k); od_del(bufs, k); od_set(params, k, v)
  elseif Module.is_module(v) then
    k = check_name("Module", k, 2)
    od_del(params, k); od_del(bufs, k); od_set(mods, k, v)
  elseif params.map[k] ~= nil then
    if v ~= nil then
      check.error(string.format("cannot assign %s as parameter '%s' (nn.Parameter or nil expected)",
        class.typename(v), k), 2)
    end
    od_del(params, k)
  elseif mods.map[k] ~= nil then
    if v ~= nil then
      check.error(string.format("cannot assign %s as child module '%s' (nn.Module or nil expected)",
        class.typename(v), k), 2)
    end
    od_del(mods, k)
  elseif bufs.map[k] ~= nil then
    if v == nil then od_del(bufs, k)
    elseif check.is_tensor(v) then bufs.map[k] = v
    else
      check.error(string.format("cannot assign %s as buffer '%s' (tensor or nil expected)",
        class.typename(v), k), 2)
    end
  else
    rawset(self, k, v)
  end
end

--- Registers (or with nil, removes) a parameter.
-- @param name the attribute name
-- @param p a tensor made by nn.Parameter, or nil
function Module:register_parameter(name, p)
  name = check_name("register_parameter", name, 2)
  if p ~= nil and not Parameter.is_parameter(p) then
    check.error("register_parameter: bad argument #2 (nn.Parameter or nil expected, got "
      .. class.typename(p) .. ")", 2)
  end
  if p == nil then od_del(self._parameters, name) return end
  rawset(self, name, nil)
  od_del(self._modules, name); od_del(self._buffers, name)
  od_set(self._parameters, name, p)
end

--- Registers a buffer: a tensor saved in state_dict (unless persistent is
-- false) and moved by to(), but not returned by parameters().
-- @param name the attribute name
-- @param t a tensor or nil
-- @param persistent whether state_dict includes it (default true)
function Module:register_buffer(name, t, persistent)
  name = check_name("register_buffer", name, 2)
  check.opt_tensor("register_buffer", 2, t, "tensor")
  if self._parameters.map[name] ~= nil or self._modules.map[name] ~= nil then
    check.error("register_buffer: attribute '" .. name .. "' already exists", 2)
  end
  if rawget(self, name) ~= nil then rawset(self, name, nil) end
  if t == nil then od_del(self._buffers, name) return end
  od_set(self._buffers, name, t)
  self._non_persistent[name] = (persistent == false) or nil
end

--- Adds a child module under a name (integers become strings).
-- @param name the attribute name
-- @param m a module
function Module:add_module(name, m)
  name = check_name("add_module", name, 2)
  if not Module.is_module(m) then
    check.error("add_module: bad argument #2 (nn.Module expected, got " .. class.typename(m) .. ")", 2)
  end
  rawset(self, name, nil)
  od_del(self._parameters, name); od_del(self._buffers, name)
  od_set(self._modules, name, m)
end
Module.register_module = Module.add_module

--- The forward pass; subclasses define it.
function Module:forward()
  check.error(class.typename(self) .. ": forward is not implemented", 2)
end

-- ---- calling, and hooks around the call ------------------------------------
-- Hooks live in the raw field _forward_hooks = {pre = {...}, post = {...}}, absent
-- while there are none: a call without hooks costs one rawget. They are
-- plain fields, so state_dict never sees them and to() leaves them be.

local function is_callable(f)
  local mt = getmetatable(f)
  return type(f) == "function" or (type(mt) == "table" and mt.__call ~= nil)
end

--- What register_forward_pre_hook and register_forward_hook return.
-- @usage local h = m:register_forward_hook(fn) ... h:remove()
local RemovableHandle = class.new("RemovableHandle")
RemovableHandle.__self_name = "handle"

function RemovableHandle:__init(module, kind, entry)
  self.module, self.kind, self.entry = module, kind, entry
end

--- Removes the hook; removing it again does nothing. `local h <close> = ...`
-- removes it when h goes out of scope.
function RemovableHandle:remove()
  local hooks = rawget(self.module, "_forward_hooks")
  if hooks == nil then return end
  local list = hooks[self.kind]
  for i, e in ipairs(list) do
    if e == self.entry then table.remove(list, i) break end
  end
  if #hooks.pre == 0 and #hooks.post == 0 then rawset(self.module, "_forward_hooks", nil) end
end
RemovableHandle.__close = RemovableHandle.remove

-- Called by the register_ methods (not as a tail call: errors at level 3).
local function add_hook(self, fname, kind, fn)
  if not is_callable(fn) then
    check.error(string.format("%s: bad argument #1 (function expected, got %s)", fname,
      class.typename(fn)), 2)
  end
  local hooks = rawget(self, "_forward_hooks")
  if hooks == nil then
    hooks = { pre = {}, post = {} }
    rawset(self, "_forward_hooks", hooks)
  end
  local entry = { fn = fn }
  hooks[kind][#hooks[kind] + 1] = entry
  return RemovableHandle(self, kind, entry)
end

--- Registers fn(module, inputs) to run before each forward, in
-- registration order. inputs is the list of arguments (inputs.n of them).
-- fn may return a replacement: a plain table is the new list of inputs
-- (its n field counts them when set), any other value the single input;
-- nil keeps them.
-- @param fn a function
-- @return a handle; handle:remove() unregisters fn
-- @usage m:register_forward_pre_hook(function(mod, inputs) return inputs[1] * 2 end)
function Module:register_forward_pre_hook(fn)
  local handle = add_hook(self, "register_forward_pre_hook", "pre", fn)
  return handle
end

--- Registers fn(module, inputs, output, ...) to run after each forward, in
-- registration order, with the inputs forward got (after the pre-hooks)
-- and every value it returned. Values fn returns replace the outputs; nil
-- keeps them.
-- @param fn a function
-- @return a handle; handle:remove() unregisters fn
-- @usage local h = m:register_forward_hook(function(mod, inputs, out) print(out.shape) end)
function Module:register_forward_hook(fn)
  local handle = add_hook(self, "register_forward_hook", "post", fn)
  return handle
end

-- A copy of a hook list: a hook may remove itself (or add others) as it runs.
local function snapshot(list) return table.move(list, 1, #list, 1, {}) end

-- The call when hooks are registered: pre-hooks, forward, forward hooks.
local function hooked_call(self, forward, hooks, ...)
  local args = table.pack(...)
  for _, e in ipairs(snapshot(hooks.pre)) do
    local r = e.fn(self, args)
    if type(r) == "table" and getmetatable(r) == nil then
      local n = r.n or #r
      args = table.move(r, 1, n, 1, { n = n }) -- the hook's table stays as it was
    elseif r ~= nil then
      args = table.pack(r)
    end
  end
  local out = table.pack(forward(self, table.unpack(args, 1, args.n)))
  for _, e in ipairs(snapshot(hooks.post)) do
    local r = table.pack(e.fn(self, args, table.unpack(out, 1, out.n)))
    if r[1] ~= nil then out = r end
  end
  return table.unpack(out, 1, out.n)
end

-- Calling a module calls forward (a tail call: errors point at the caller),
-- through the hooks when it has any. self is a module here, so forward is
-- called past its '.'-for-':' check (the hot path of every model).
function Module.__call(self, ...)
  local forward = self.forward
  forward = unchecked[forward] or forward
  local hooks = rawget(self, "_forward_hooks")
  if hooks == nil then return forward(self, ...) end
  return hooked_call(self, forward, hooks, ...)
end

-- Modules kept in a plain Lua table (self.layers = {nn.Linear(...), ...})
-- are not registered: Lua sees only the assignment of the table. They are
-- not registered behind the user's back either: that would change the
-- parameters and state_dict keys of existing models, and a plain table may
-- hold modules on purpose (a frozen target network). So each module is
-- scanned once, when a walk first meets it, and a warning points at
-- nn.ModuleList (once per class and field).
local scanned = setmetatable({}, { __mode = "k" })
local BOOKKEEPING = { _parameters = true, _buffers = true, _modules = true,
  _non_persistent = true, _forward_hooks = true }
local SCAN_LIMIT = 64 -- entries looked at per table: the scan stays cheap

local function holds_modules(t)
  local n = 0
  for _, v in pairs(t) do
    if Module.is_module(v) then return true end
    n = n + 1
    if n >= SCAN_LIMIT then break end
  end
  return false
end

local function warn_plain_tables(m)
  scanned[m] = true
  for k, v in next, m do
    if type(v) == "table" and getmetatable(v) == nil and not BOOKKEEPING[k]
        and holds_modules(v) then
      local where = class.typename(m) .. "." .. tostring(k)
      warn_once("plain:" .. where, string.format("%s is a plain Lua table holding modules: "
        .. "their parameters are not registered (parameters(), state_dict(), train() and to() "
        .. "skip them); use nn.ModuleList (or nn.ModuleDict for names) instead", where))
    end
  end
end

-- Walks the tree depth first: {name, module} pairs, each module once.
local function walk(m, prefix, out, seen)
  if seen[m] then return out end
  seen[m] = true
  if not scanned[m] then warn_plain_tables(m) end
  out[#out + 1] = { prefix, m }
  for _, name in ipairs(m._modules.keys) do
    walk(m._modules.map[name], prefix == "" and name or prefix .. "." .. name, out, seen)
  end
  return out
end

-- {name, tensor} pairs of one kind ("_parameters" or "_buffers").
-- all: keep a tensor shared by two modules under both names (state_dict).
local function named_members(self, field, prefix, recurse, all)
  local out, seen = {}, {}
  local mods = recurse == false and { { "", self } } or walk(self, "", {}, {})
  for _, e in ipairs(mods) do
    local od = e[2][field]
    for _, name in ipairs(od.keys) do
      local t = od.map[name]
      if all or not seen[t] then
        seen[t] = true
        local full = e[1] == "" and name or e[1] .. "." .. name
        out[#out + 1] = { (prefix and prefix ~= "") and prefix .. "." .. full or full, t, e[2], name }
      end
    end
  end
  return out
end

local function iterate(list)
  local i = 0
  return function()
    i = i + 1
    local e = list[i]
    if e then return e[1], e[2] end
  end
end

local function values(list)
  local out = {}
  for i, e in ipairs(list) do out[i] = e[2] end
  return out
end

--- Iterates (name, parameter) over this module and its descendants, in
-- registration order, each tensor once: `for name, p in m:named_parameters() do`.
-- @param prefix prepended to every name (optional)
-- @param recurse false for this module's own parameters only
-- @return an iterator
function Module:named_parameters(prefix, recurse)
  return iterate(named_members(self, "_parameters", prefix, recurse))
end

--- The parameters as a list (for optimizers: `optim.SGD(model:parameters(), ...)`).
-- @param recurse false for this module's own parameters only
-- @return a list of tensors
function Module:parameters(recurse)
  return values(named_members(self, "_parameters", nil, recurse))
end

--- Iterates (name, buffer) like named_parameters.
-- @return an iterator
function Module:named_buffers(prefix, recurse)
  return iterate(named_members(self, "_buffers", prefix, recurse))
end

--- The buffers as a list.
-- @return a list of tensors
function Module:buffers(recurse)
  return values(named_members(self, "_buffers", nil, recurse))
end

--- Iterates (name, child) over the direct children.
-- @return an iterator
function Module:named_children()
  local list = {}
  for _, name in ipairs(self._modules.keys) do
    list[#list + 1] = { name, self._modules.map[name] }
  end
  return iterate(list)
end

--- The direct children as a list.
-- @return a list of modules
function Module:children()
  local out = {}
  for _, name in ipairs(self._modules.keys) do out[#out + 1] = self._modules.map[name] end
  return out
end

--- Iterates (name, module) over this module ("") and all descendants.
-- @return an iterator
function Module:named_modules()
  return iterate(walk(self, "", {}, {}))
end

--- This module and all descendants as a list, depth first.
-- @return a list of modules
function Module:modules()
  return values(walk(self, "", {}, {}))
end

--- Sets training mode (affects Dropout and similar) on the whole tree.
-- @param mode boolean, default true
-- @return self
function Module:train(mode)
  mode = check.boolean("train", 1, mode, "mode", true, 2)
  for _, m in ipairs(self:modules()) do rawset(m, "training", mode) end
  return self
end

--- Sets evaluation mode: train(false).
-- @return self
function Module:eval()
  return self:train(false)
end

--- Clears the gradients of every parameter.
-- @param set_to_none true (default) drops them; false fills them with zeros
function Module:zero_grad(set_to_none)
  for _, p in ipairs(self:parameters()) do
    local g = p.grad
    if g ~= nil then
      if set_to_none == false then g:zero_() else p.grad = nil end
    end
  end
end

--- Sets requires_grad on every parameter (freezing with false).
-- @return self
function Module:requires_grad_(flag)
  flag = check.boolean("requires_grad_", 1, flag, "requires_grad", true, 2)
  for _, p in ipairs(self:parameters()) do p:requires_grad_(flag) end
  return self
end

--- Calls fn(module) on every descendant (children first), then on self.
-- @param fn a function
-- @return self
function Module:apply(fn)
  if type(fn) ~= "function" then
    check.error("apply: bad argument #1 (function expected, got " .. class.typename(fn) .. ")", 2)
  end
  for _, c in ipairs(self:children()) do c:apply(fn) end
  fn(self)
  return self
end

-- ---- saving, loading, moving ----------------------------------------

--- The parameters and persistent buffers by full name ("fc1.weight"),
-- detached (sharing memory with the model).
-- @param keep_vars true keeps the tensors themselves (with autograd state)
-- @return a table name -> tensor, for luann.save
function Module:state_dict(keep_vars)
  local sd = {}
  for _, e in ipairs(named_members(self, "_parameters", nil, true, true)) do
    sd[e[1]] = keep_vars and e[2] or e[2]:detach()
  end
  for _, e in ipairs(named_members(self, "_buffers", nil, true, true)) do
    if not e[3]._non_persistent[e[4]] then
      sd[e[1]] = keep_vars and e[2] or e[2]:detach()
    end
  end
  return sd
end

local function quoted(list)
  local q = {}
  for i, k in ipairs(list) do q[i] = '"' .. k .. '"' end
  return table.concat(q, ", ")
end

-- What a state_dict load would do: the copies, and the problems found.
local function plan_load(self, sd)
  local own, copies, missing, mismatch = {}, {}, {}, {}
  for _, e in ipairs(named_members(self, "_parameters", nil, true, true)) do own[#own + 1] = e end
  for _, e in ipairs(named_members(self, "_buffers", nil, true, true)) do
    if not e[3]._non_persistent[e[4]] then own[#own + 1] = e end
  end
  local known = {}
  for _, e in ipairs(own) do
    local name, t = e[1], e[2]
    known[name] = true
    local src = sd[name]
    if src == nil then
      missing[#missing + 1] = name
    elseif not check.is_tensor(src) then
      mismatch[#mismatch + 1] = string.format("expected a tensor for %s, got %s", name, class.typename(src))
    elseif not check.same_shape(src, t) then
      mismatch[#mismatch + 1] = string.format(
        "size mismatch for %s: copying a param with shape %s from checkpoint, the shape in current model is %s.",
        name, check.shape_str(src), check.shape_str(t))
    else
      copies[#copies + 1] = { t, src }
    end
  end
  local unexpected = {}
  for k in pairs(sd) do
    if not known[k] then unexpected[#unexpected + 1] = tostring(k) end
  end
  table.sort(unexpected)
  return copies, missing, unexpected, mismatch
end

-- load_state_dict's second argument: strict, or {strict =, numbering =}.
local LOAD_OPTIONS = { strict = true, numbering = true }
local function load_options(sd, opts)
  if type(opts) ~= "table" then
    return sd, check.boolean("load_state_dict", 2, opts, "strict", true, 3)
  end
  check.known_options("load_state_dict", opts, LOAD_OPTIONS, 3)
  local strict = check.boolean("load_state_dict", 2, opts.strict, "strict", true, 3)
  local which = check.choice("load_state_dict", 2, opts.numbering, "numbering", "luann",
    { "luann", "pytorch" }, 3)
  if which == "pytorch" then sd = numbering.from_pytorch(sd) end
  return sd, strict
end

--- Copies a state_dict's tensors into the parameters and buffers.
-- @param sd a table name -> tensor (from state_dict, luann.load, or
--   luann.safetensors.load: PyTorch's key names, as "fc1.weight", load as they are)
-- @param opts strict (a boolean), or {strict = true, numbering = "luann"}:
--   strict (default true) makes missing or unexpected keys errors;
--   numbering = "pytorch" reads the children of Sequential and ModuleList
--   as numbered from 0, as PyTorch does ("0.weight" is luann's "1.weight";
--   see luann.numbering). Safetensors files marked format = "pt" are
--   renumbered when loaded, so they need no option.
-- @return {missing_keys = {...}, unexpected_keys = {...}}
-- Nothing is copied when an error is raised. The message lists every
-- missing and unexpected key and each shape mismatch with both shapes.
-- @usage model:load_state_dict(luann.load("model.npz"), {numbering = "pytorch"})
function Module:load_state_dict(sd, opts)
  if type(sd) ~= "table" then
    check.error("load_state_dict: bad argument #1 (table expected, got " .. class.typename(sd) .. ")", 2)
  end
  local strict
  sd, strict = load_options(sd, opts)
  local copies, missing, unexpected, errs = plan_load(self, sd)
  local lines = {}
  if strict and #missing > 0 then
    lines[#lines + 1] = "Missing key(s) in state_dict: " .. quoted(missing) .. "."
  end
  if strict and #unexpected > 0 then
    lines[#lines + 1] = "Unexpected key(s) in state_dict: " .. quoted(unexpected) .. "."
  end
  for _, m in ipairs(errs) do lines[#lines + 1] = m end
  if #lines > 0 then
    check.error("Error(s) in loading state_dict for " .. class.typename(self) .. ":\n\t"
      .. table.concat(lines, "\n\t"), 2)
  end
  local guard <close> = luann.no_grad()
  for _, c in ipairs(copies) do c[1]:copy_(c[2]) end
  return { missing_keys = missing, unexpected_keys = unexpected }
end

local function same_place(a, b)
  return tostring(a.dtype) == tostring(b.dtype) and tostring(a.device) == tostring(b.device)
end

--- Moves (or converts) every parameter and buffer: `model:to("opencl")`,
-- `model:to("float64")`. Parameters are replaced by new ones on the target,
-- so make optimizers after moving the model, as in PyTorch.
-- @param where a device or dtype name, as taken by tensor:to
-- @return self
function Module:to(where)
  local guard <close> = luann.no_grad()
  for _, m in ipairs(self:modules()) do
    local params, bufs = m._parameters, m._buffers
    for _, name in ipairs(params.keys) do
      local p = params.map[name]
      local q = p:detach():to(where)
      if not same_place(p, q) then
        local np = Parameter(q:detach(), p.requires_grad)
        if p.grad ~= nil then np.grad = p.grad:to(where) end
        params.map[name] = np
      end
    end
    for _, name in ipairs(bufs.keys) do
      bufs.map[name] = bufs.map[name]:to(where)
    end
  end
  return self
end

--- to("float32").
-- @return self
function Module:float() return self:to("float32") end
--- to("float64").
-- @return self
function Module:double() return self:to("float64") end
--- to("cpu").
-- @return self
function Module:cpu() return self:to("cpu") end

-- ---- printing ------------------------------------------------------------

--- The text inside a leaf module's parentheses ("in_features=784, ...");
-- layers override it.
-- @return string
function Module:extra_repr()
  return ""
end

-- The tree as PyTorch prints it, children indented by two spaces.
function Module.__tostring(self)
  local name = class.typename(self)
  local extra = self:extra_repr()
  local body = {}
  if extra ~= "" then
    for line in extra:gmatch("[^\n]+") do body[#body + 1] = line end
  end
  for _, k in ipairs(self._modules.keys) do
    local child = tostring(self._modules.map[k]):gsub("\n", "\n  ")
    body[#body + 1] = "(" .. k .. "): " .. child
  end
  if #self._modules.keys == 0 then return name .. "(" .. extra .. ")" end
  return name .. "(\n  " .. table.concat(body, "\n  ") .. "\n)"
end

return Module
