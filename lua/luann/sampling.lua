--- Sampling from given probabilities: luann.multinomial and
-- luann.bernoulli (the function; t:bernoulli_(p) fills in place). Both are
-- composites of tensor ops, so they run on every device.
-- @usage local idx = luann.multinomial(luann.tensor({0.1, 0.6, 0.3}), 5, {replacement = true})
-- local coin = luann.bernoulli(luann.full({4}, 0.5))
local luann = require "luann.core"
local check = require "luann.utils.check"

local function shape_str(t) return check.shape_str(t) end

-- Raises unless every weight is finite and >= 0, and each row sums above 0.
local function check_weights(fname, w)
  if w:isnan():any():item() or w:isinf():any():item() or w:lt(0):any():item() then
    check.error(fname .. ": probabilities must be finite and non-negative", 2)
  end
  if w:sum(-1):le(0):any():item() then
    check.error(fname .. ": every row of probabilities must have a positive sum", 2)
  end
end

--- Draws num_samples category indices (1-based) per row of weights, as
-- torch.multinomial: with replacement by inverting the cumulative sum, and
-- without it by the Gumbel top-k trick (each category at most once).
-- @param input (K) or (N, K) non-negative weights, not necessarily normalised
-- @param num_samples how many per row
-- @param opts {replacement = false, generator = nil}
-- @return int64 (num_samples) or (N, num_samples)
function luann.multinomial(input, num_samples, opts)
  local fname = "multinomial"
  check.tensor(fname, 1, input, "input")
  num_samples = check.integer(fname, 2, num_samples, "num_samples", nil, 1)
  opts = check.options(fname, 3, opts)
  check.known_options(fname, opts, { replacement = true, generator = true })
  local replacement = check.boolean(fname, 3, opts.replacement, "replacement", false)
  local nd = input:dim()
  if nd < 1 or nd > 2 or input:size(-1) == 0 then
    check.error(fname .. ": expected a non-empty (K) or (N, K) tensor of probabilities, got shape "
      .. shape_str(input), 2)
  end
  if input.dtype ~= "float32" and input.dtype ~= "float64" then
    check.error(fname .. ": expected float32 or float64 probabilities, got " .. input.dtype, 2)
  end
  local w = (nd == 1 and input:unsqueeze(1) or input):detach():double()
  check_weights(fname, w)
  local n, k = w:size(1), w:size(2)
  local ropts = { dtype = "float64", device = w.device, generator = opts.generator }
  local idx
  if replacement then
    local cdf = w:cumsum(2)
    cdf = cdf / cdf:narrow(2, k, 1) -- the last entry exactly 1, so u < 1 stays inside
    local u = luann.rand({ n, num_samples, 1 }, ropts)
    idx = cdf:unsqueeze(2):le(u):sum(3) + 1
  else
    local nonzero = w:gt(0):sum(2):min():item()
    if num_samples > nonzero then
      check.error(string.format("%s: cannot draw %d samples without replacement from %d categories "
        .. "with nonzero probability", fname, num_samples, nonzero), 2)
    end
    local u = luann.rand({ n, k }, ropts):clamp(1e-300, 1)
    local keys = w:log() - (-u:log()):log() -- log w + Gumbel noise
    local _
    _, idx = keys:topk(num_samples, 2)
  end
  idx = idx:long()
  return nd == 1 and idx:squeeze(1) or idx
end

--- 1 with probability p, else 0, elementwise, as torch.bernoulli.
-- @param p a tensor of probabilities in [0, 1]
-- @param opts {generator = nil}
-- @return p's shape and dtype
function luann.bernoulli(p, opts)
  local fname = "bernoulli"
  check.tensor(fname, 1, p, "p")
  opts = check.options(fname, 2, opts)
  check.known_options(fname, opts, { generator = true })
  if p.dtype ~= "float32" and p.dtype ~= "float64" then
    check.error(fname .. ": expected float32 or float64 probabilities, got " .. p.dtype, 2)
  end
  local pd = p:detach()
  if pd:isnan():any():item() or pd:lt(0):any():item() or pd:gt(1):any():item() then
    check.error(fname .. ": probabilities must lie in [0, 1]", 2)
  end
  local u = luann.rand(p.shape, { dtype = p.dtype, device = p.device, generator = opts.generator })
  return u:lt(pd):to(p.dtype)
end

return luann
