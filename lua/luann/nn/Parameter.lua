--- nn.Parameter: marks a tensor as a module parameter.
-- Tensors are userdata, so a parameter is an ordinary leaf tensor that
-- requires grad, remembered in a weak set; assigning one to a module field
-- registers it (`self.weight = nn.Parameter(luann.empty(out, in))`).
-- @usage local w = nn.Parameter(luann.randn(3, 4))  -- w.requires_grad == true
local check = require "luann.utils.check"

local Parameter = {}
local marked = setmetatable({}, { __mode = "k" })

--- Makes t a parameter (a leaf; a tensor with history is detached first).
-- @param t a tensor
-- @param requires_grad whether it requires grad (default true)
-- @return the parameter tensor
function Parameter.new(t, requires_grad)
  check.tensor("nn.Parameter", 1, t, "data")
  requires_grad = check.boolean("nn.Parameter", 2, requires_grad, "requires_grad", true)
  if not t.is_leaf then t = t:detach() end
  if t.requires_grad ~= requires_grad then
    local dt = tostring(t.dtype)
    if requires_grad and dt ~= "float32" and dt ~= "float64" then
      check.error("nn.Parameter: only floating point tensors can require gradients (got " .. dt .. ")", 2)
    end
    t:requires_grad_(requires_grad)
  end
  marked[t] = true
  return t
end

--- Whether v was made a parameter by nn.Parameter.
-- @param v any value
-- @return boolean
function Parameter.is_parameter(v)
  return check.is_tensor(v) and marked[v] == true
end

return setmetatable(Parameter, { __call = function(_, ...) return Parameter.new(...) end })
