--- nn.utils: gradient clipping.
-- @usage local norm = nn.utils.clip_grad_norm_(model:parameters(), 1.0)
local luann = require "luann"
local check = require "luann.utils.check"

local utils = {}

-- The gradients of a parameter list (or one tensor), skipping missing ones.
local function grads(fname, params)
  local out = {}
  for _, p in ipairs(check.tensor_list(fname, 1, params, "parameters", 3)) do
    local g = p.grad
    if g ~= nil then out[#out + 1] = g end
  end
  return out
end

--- Scales all gradients together so their joint norm is at most max_norm.
-- total = (sum_i ||g_i||_p^p)^(1/p) (max |g| for p = inf); when total >
-- max_norm every gradient is multiplied by max_norm / (total + 1e-6).
-- @param params a list of tensors (or one tensor)
-- @param max_norm the largest allowed norm
-- @param norm_type p (default 2; math.huge for the max norm)
-- @param error_if_nonfinite raise when the total is nan or inf (default false)
-- @return the total norm before clipping, a 0-dim float32 tensor
function utils.clip_grad_norm_(params, max_norm, norm_type, error_if_nonfinite)
  local gs = grads("clip_grad_norm_", params)
  max_norm = check.number("clip_grad_norm_", 2, max_norm, "max_norm")
  local p = check.number("clip_grad_norm_", 3, norm_type, "norm_type", 2, 0)
  local total = 0
  for _, g in ipairs(gs) do
    if p == math.huge then
      if g:numel() > 0 then total = math.max(total, luann.abs(g):max():item()) end
    else
      total = total + g:norm(p):item() ^ p
    end
  end
  if p ~= math.huge then total = total ^ (1 / p) end
  if error_if_nonfinite and (total ~= total or total == math.huge) then
    check.error(string.format("clip_grad_norm_: the total norm of order %s for gradients is non-finite, "
      .. "so it cannot be clipped", tostring(p)), 2)
  end
  local coef = max_norm / (total + 1e-6)
  if coef < 1 then
    local guard <close> = luann.no_grad()
    for _, g in ipairs(gs) do g:mul_(coef) end
  end
  return luann.tensor(total)
end

--- Clamps every gradient element into [-clip_value, clip_value].
-- @param params a list of tensors (or one tensor)
-- @param clip_value a non-negative number
function utils.clip_grad_value_(params, clip_value)
  local gs = grads("clip_grad_value_", params)
  local c = check.number("clip_grad_value_", 2, clip_value, "clip_value", nil, 0)
  local guard <close> = luann.no_grad()
  for _, g in ipairs(gs) do g:clamp_(-c, c) end
end

--- Copies parameters into one flat vector (in list order).
-- @param params a list of tensors (or one tensor)
-- @return a 1-dim tensor
function utils.parameters_to_vector(params)
  local flat = {}
  for i, p in ipairs(check.tensor_list("parameters_to_vector", 1, params, "parameters")) do
    flat[i] = p:detach():reshape(-1)
  end
  return luann.cat(flat, 1)
end

--- Copies a flat vector back into the parameters (in list order).
-- @param vec a 1-dim tensor of the total size
-- @param params a list of tensors (or one tensor)
function utils.vector_to_parameters(vec, params)
  check.tensor("vector_to_parameters", 1, vec, "vec")
  params = check.tensor_list("vector_to_parameters", 2, params, "parameters")
  local total = 0
  for _, p in ipairs(params) do total = total + p:numel() end
  if vec:dim() ~= 1 or vec:numel() ~= total then
    check.error(string.format("vector_to_parameters: vec has shape %s, the parameters hold %d values",
      check.shape_str(vec), total), 2)
  end
  local guard <close> = luann.no_grad()
  local at = 1
  for _, p in ipairs(params) do
    local n = p:numel()
    p:copy_(vec:narrow(1, at, n):view(p.shape))
    at = at + n
  end
end

return utils
