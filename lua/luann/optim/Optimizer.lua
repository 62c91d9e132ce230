--- optim.Optimizer: the base of the optimizers (SGD, Adam, ...).
--
-- An optimizer holds parameter groups: lists of tensors sharing settings.
--
--    optim.SGD(model:parameters(), {lr = 0.01, momentum = 0.9})
--    optim.SGD({ {params = base:parameters()},
--                {params = head:parameters(), lr = 1e-3} }, {lr = 1e-2})
--
-- Settings missing from a group come from the options table, then from the
-- optimizer's defaults. A subclass sets `defaults` (name -> default value),
-- `validate(fname, group)` and `update_group(group)`, which applies one
-- step to the parameters of a group that have a gradient, through the fused
-- kernels (luann._sgd_step, ...). Per-parameter state lives in
-- `self.state[param]`.
local luann = require "luann"
local class = require "luann.utils.class"
local check = require "luann.utils.check"

local Optimizer = class.new("Optimizer")
Optimizer.__self_name = "opt" -- for the hint of a '.' call: opt:method()

-- A list of tensors from a list or one tensor.
local function tensor_list(fname, params, level)
  if check.is_tensor(params) then return { params } end
  if type(params) ~= "table" or getmetatable(params) ~= nil then
    check.error(string.format("%s: params must be a list of tensors or of parameter groups, got %s",
      fname, class.typename(params)), level + 1)
  end
  return params
end

--- Makes the optimizer (subclasses inherit this constructor).
-- @param params a list of tensors, or a list of group tables {params = ..., lr = ...}
-- @param opts settings for every group (see each optimizer's defaults)
function Optimizer:__init(params, opts)
  local fname = "optim." .. class.typename(self)
  opts = check.options(fname, 2, opts, 3)
  check.known_options(fname, opts, self.defaults, 3)
  local defaults = {}
  for k, v in pairs(self.defaults) do defaults[k] = v end
  for k, v in pairs(opts) do defaults[k] = v end
  rawset(self, "options", defaults)
  self.param_groups, self.state = {}, {}
  params = tensor_list(fname, params, 3)
  if #params == 0 then check.error(fname .. ": got an empty parameter list", 2) end
  if check.is_tensor(params[1]) then params = { { params = params } } end
  for _, group in ipairs(params) do self:add_param_group(group, 4) end
end

--- Adds a group of parameters with its own settings (for fine-tuning).
-- @param group {params = list of tensors, lr = ..., ...}
function Optimizer:add_param_group(group, level)
  level = level or 2
  local fname = "optim." .. class.typename(self)
  if type(group) ~= "table" or check.is_tensor(group) then
    check.error(fname .. ": a parameter group must be a table {params = ...}, got " .. class.typename(group), level)
  end
  local g = { params = {} }
  for i, p in ipairs(tensor_list(fname, group.params, level)) do
    if not check.is_tensor(p) then
      check.error(string.format("%s: item %d of a parameter group is a %s, not a tensor", fname, i,
        class.typename(p)), level)
    end
    g.params[i] = p
  end
  for k, v in pairs(group) do
    if k ~= "params" then
      if self.defaults[k] == nil and k ~= "initial_lr" then
        check.error(string.format("%s: unknown option '%s' in a parameter group", fname, tostring(k)), level)
      end
      g[k] = v
    end
  end
  for k, v in pairs(self.options) do
    if g[k] == nil then g[k] = type(v) == "table" and table.move(v, 1, #v, 1, {}) or v end
  end
  local seen = {}
  for _, old in ipairs(self.param_groups) do
    for _, p in ipairs(old.params) do seen[p] = true end
  end
  for _, p in ipairs(g.params) do
    if seen[p] then check.error(fname .. ": some parameters appear in more than one parameter group", level) end
    seen[p] = true
  end
  self:validate(fname, g, level + 1)
  self.param_groups[#self.param_groups + 1] = g
end

--- Checks a group's settings (subclasses extend it).
function Optimizer:validate(fname, g, level)
  if type(g.lr) ~= "number" or g.lr < 0 then
    check.error(string.format("%s: invalid learning rate: %s", fname, tostring(g.lr)), level)
  end
  if g.weight_decay ~= nil and (type(g.weight_decay) ~= "number" or g.weight_decay < 0) then
    check.error(string.format("%s: invalid weight_decay value: %s", fname, tostring(g.weight_decay)), level)
  end
end

--- Clears the gradients of every parameter.
-- @param set_to_none true (default) drops them; false fills them with zeros
function Optimizer:zero_grad(set_to_none)
  for _, group in ipairs(self.param_groups) do
    for _, p in ipairs(group.params) do
      local g = p.grad
      if g ~= nil then
        if set_to_none == false then g:zero_() else p.grad = nil end
      end
    end
  end
end

--- Updates every parameter that has a gradient.
-- @param closure optional: a function that recomputes the loss (run with grad on)
-- @return the closure's result
function Optimizer:step(closure)
  local loss
  if closure ~= nil then
    if type(closure) ~= "function" then
      check.error("step: bad argument #1 (function or nil expected, got " .. class.typename(closure) .. ")", 2)
    end
    local guard <close> = luann.enable_grad()
    loss = closure()
  end
  for _, group in ipairs(self.param_groups) do self:update_group(group) end
  return loss
end

--- The settings and state, with parameters numbered 1..n across groups
-- (for luann.save): {state = {[i] = {...}}, param_groups = {{lr=, params={i,...}}}}.
-- @return a table
function Optimizer:state_dict()
  local groups, state, index = {}, {}, 0
  for gi, group in ipairs(self.param_groups) do
    local g = { params = {} }
    for k, v in pairs(group) do
      if k ~= "params" then g[k] = type(v) == "table" and table.move(v, 1, #v, 1, {}) or v end
    end
    for _, p in ipairs(group.params) do
      index = index + 1
      g.params[#g.params + 1] = index
      if self.state[p] ~= nil then
        local s = {}
        for k, v in pairs(self.state[p]) do s[k] = v end
        state[index] = s
      end
    end
    groups[gi] = g
  end
  return { state = state, param_groups = groups }
end

--- Restores settings and state saved by state_dict (copies the tensors,
-- onto each parameter's device).
-- @param sd a table from state_dict (or luann.load)
function Optimizer:load_state_dict(sd)
  local fname = "optim." .. class.typename(self) .. ":load_state_dict"
  if type(sd) ~= "table" or type(sd.param_groups) ~= "table" or type(sd.state) ~= "table" then
    check.error(fname .. ": expected a table {state = ..., param_groups = ...}", 2)
  end
  if #sd.param_groups ~= #self.param_groups then
    check.error(string.format("%s: loaded state dict has %d parameter groups, the optimizer has %d",
      fname, #sd.param_groups, #self.param_groups), 2)
  end
  for gi, group in ipairs(self.param_groups) do
    local saved = sd.param_groups[gi]
    if type(saved.params) ~= "table" or #saved.params ~= #group.params then
      check.error(string.format("%s: parameter group %d has %d parameters in the state dict, %d in the optimizer",
        fname, gi, type(saved.params) == "table" and #saved.params or 0, #group.params), 2)
    end
  end
  local state = {}
  for gi, group in ipairs(self.param_groups) do
    local saved = sd.param_groups[gi]
    for k, v in pairs(saved) do
      if k ~= "params" then group[k] = type(v) == "table" and table.move(v, 1, #v, 1, {}) or v end
    end
    for i, p in ipairs(group.params) do
      local s = sd.state[saved.params[i]]
      if s ~= nil then
        local ns = {}
        for k, v in pairs(s) do
          if check.is_tensor(v) then
            v = v:to(p.device)
            if v:numel() == p:numel() then v = v:to(p.dtype) end
            v = v:clone()
          end
          ns[k] = v
        end
        state[p] = ns
      end
    end
  end
  self.state = state
end

function Optimizer:__tostring()
  local lines = { class.typename(self) .. " (" }
  for gi, group in ipairs(self.param_groups) do
    lines[#lines + 1] = "Parameter Group " .. gi
    local keys = {}
    for k in pairs(group) do if k ~= "params" then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = group[k]
      if type(v) == "table" then v = "(" .. table.concat(v, ", ") .. ")" end
      lines[#lines + 1] = "    " .. k .. ": " .. tostring(v)
    end
  end
  lines[#lines + 1] = ")"
  return table.concat(lines, "\n")
end

--- Applies one step to a parameter group (each optimizer defines it; step()
-- calls it for every group).
-- @param group a table of param_groups
function Optimizer:update_group()
  check.error(class.typename(self) .. ": update_group is not implemented", 2)
end

return Optimizer
