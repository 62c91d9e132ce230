--- Pooling for nn.functional, composed from the core's ops: pad, unfold
-- (sliding windows as a strided view), max/sum over each window, and
-- index_select + matmul for the adaptive pools; the backward comes from the
-- parts, on every backend. Sizes are a number or a list ({h, w}); options by
-- position (PyTorch's order) or by name in a trailing table. Indices are
-- 1-based flat positions in each (n, c) plane (L for 1-d, H*W for 2-d).
-- @usage F.max_pool2d(x, 2)  F.avg_pool2d(x, 3, {stride = 2, padding = 1})
local luann = require "luann"
local check = require "luann.utils.check"

local function shape_str(s) return "(" .. table.concat(s, ",") .. ")" end

-- nd integers from a number or a list of nd (nil gives def).
local function sizes(fname, v, name, nd, def, lo)
  if v == nil then v = def end
  local list = {}
  if type(v) == "table" and not check.is_tensor(v) then
    if rawlen(v) ~= nd then
      check.error(string.format("%s: %s must be a number or a list of %d, got %d numbers",
        fname, name, nd, rawlen(v)), 2)
    end
    for i = 1, nd do list[i] = check.integer(fname, 2, v[i], name, nil, lo, 3) end
  else
    local x = check.integer(fname, 2, v, name, nil, lo, 3)
    for i = 1, nd do list[i] = x end
  end
  return list
end

-- The input as (N, C, spatial...) and whether a batch dim was added.
local function batched(fname, x, nd)
  check.tensor(fname, 1, x, "input", 3)
  if x:dim() == nd + 1 then return x:unsqueeze(1), true end
  if x:dim() ~= nd + 2 then
    check.error(string.format("%s: expected a %d-d or %d-d input, got %s", fname, nd + 1,
      nd + 2, shape_str(x.shape)), 2)
  end
  return x, false
end

--[[ The windows of a pool over the last nd dims: for each, the output
  size (PyTorch's: floor or ceil of (len + 2p - d(k-1) - 1)/s + 1, where in
  ceil mode the last window must start inside the input or the left
  padding) and the padding on each side that makes exactly those windows. ]]
local function geometry(fname, x, nd, o)
  local g = { nd = nd, k = o.k, s = o.s, d = o.d, left = o.p, right = {}, out = {} }
  local base = x:dim() - nd
  for i = 1, nd do
    local len, k, s, p, d = x:size(base + i), o.k[i], o.s[i], o.p[i], o.d[i]
    local eff = d * (k - 1) + 1
    if 2 * p > eff then
      check.error(string.format("%s: padding %s must be at most half of the kernel %s",
        fname, shape_str(o.p), shape_str(o.k)), 2)
    end
    local span = len + 2 * p - eff
    if span < 0 then
      local padded = {}
      for j = 1, nd do padded[j] = x:size(base + j) + 2 * o.p[j] end
      check.error(string.format("%s: kernel %s (dilation %s) is larger than the padded input %s of input %s",
        fname, shape_str(o.k), shape_str(o.d), shape_str(padded), shape_str(x.shape)), 2)
    end
    local n = (o.ceil and -((-span) // s) or span // s) + 1
    if o.ceil and (n - 1) * s >= len + p then n = n - 1 end
    g.out[i], g.right[i] = n, (n - 1) * s + eff - len - p
  end
  return g
end

-- luann.pad's list (last dim first) for per-dim left and right pads.
local function pad_list(left, right)
  local l = {}
  for i = #left, 1, -1 do l[#l + 1] = left[i]; l[#l + 1] = right[i] end
  return l
end

-- x (..., spatial) padded with value -> (..., out..., K): each window's
-- elements flattened in row-major order, K = prod(k).
local function windows(x, g, left, right, value)
  x = luann.pad(x, pad_list(left, right), "constant", value)
  local base = x:dim() - g.nd
  for i = 1, g.nd do x = x:unfold(base + i, g.k[i], g.s[i], g.d[i]) end
  local shape, K = {}, 1
  for i = 1, base + g.nd do shape[i] = x:size(i) end
  for i = 1, g.nd do K = K * g.k[i] end
  shape[#shape + 1] = K
  return x:reshape(table.unpack(shape))
end

-- The 1-based flat positions of a plane of `dims`, float64 on device.
local function positions(dims, device)
  local n = 1
  for _, v in ipairs(dims) do n = n * v end
  return luann.arange(1, n + 1, { dtype = "float64", device = device }):view(table.unpack(dims))
end

-- The plane positions that idx (1-based, last dim of vals' windows) picks,
-- from pos windows (out..., K): int64 of idx's shape.
local function pick(pos, idx)
  local shape = {}
  for i = 1, idx:dim() do shape[i] = idx:size(i) end
  shape[#shape + 1] = pos:size(pos:dim())
  return pos:expand(table.unpack(shape)):gather(idx:dim() + 1, idx:unsqueeze(-1)):squeeze(-1):long()
end

local function unbatch(t, added) return added and t:squeeze(1) or t end

-- Max pool over nd spatial dims, arguments read by the caller.
local function max_pool(fname, x, a, nd)
  local x4, added = batched(fname, x, nd)
  local o = {
    k = sizes(fname, a.kernel_size, "kernel_size", nd, nil, 1),
    p = sizes(fname, a.padding, "padding", nd, 0, 0),
    d = sizes(fname, a.dilation, "dilation", nd, 1, 1),
    ceil = check.boolean(fname, 6, a.ceil_mode, "ceil_mode", false, 3),
  }
  o.s = sizes(fname, a.stride, "stride", nd, o.k, 1)
  local indices = check.boolean(fname, 7, a.return_indices, "return_indices", false, 3)
  geometry(fname, x4, nd, o) -- the checks, with the caller's names
  if x4.dtype == "float32" or x4.dtype == "float64" then
    -- the core's kernel: one pass over the input (1-d pools as 1-row 2-d ones)
    local x2, k = x4, o
    if nd == 1 then
      x2 = x4:unsqueeze(3)
      k = { k = { 1, o.k[1] }, s = { 1, o.s[1] }, p = { 0, o.p[1] }, d = { 1, o.d[1] }, ceil = o.ceil }
    end
    local vals, idx = luann.max_pool2d_with_indices(x2, { kernel_size = k.k, stride = k.s,
      padding = k.p, dilation = k.d, ceil_mode = k.ceil, return_indices = indices })
    if nd == 1 then vals, idx = vals:squeeze(3), idx and idx:squeeze(3) end
    if not indices then return unbatch(vals, added) end
    return unbatch(vals, added), unbatch(idx, added)
  end
  local g = geometry(fname, x4, nd, o)
  local vals, idx = windows(x4, g, g.left, g.right, -math.huge):max(-1)
  if not indices then return unbatch(vals, added) end
  local plane = {}
  for i = 1, nd do plane[i] = x4:size(2 + i) end
  local pos = windows(positions(plane, x.device), g, g.left, g.right, 0)
  return unbatch(vals, added), unbatch(pick(pos, idx), added)
end

local MAX = { "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices" }
local AVG = { "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
              "divisor_override" }

-- Adaptive windows of len into out: start = floor(i*len/out), stop =
-- ceil((i+1)*len/out), i = 0..out-1, as float64 (out, 1) columns.
local function bounds(len, out, device)
  local i = luann.arange(out, { dtype = "float64", device = device }):view(out, 1)
  return (i * len / out):floor(), ((i + 1) * len / out):ceil()
end

-- The adaptive output size from a number or {h, w} (nil keeps the input's).
local function adaptive_size(fname, v, x4)
  if v == nil then check.error(fname .. ": output_size is required", 2) end
  local out = {}
  for i = 1, 2 do
    local e = v
    if type(v) == "table" and not check.is_tensor(v) then e = v[i] end
    if e == nil then e = x4:size(2 + i) end
    out[i] = check.integer(fname, 2, e, "output_size", nil, 1, 3)
  end
  return out
end

return function(F)
  --- Max over sliding windows of (N, C, L) or (C, L).
  -- Arguments: kernel_size, stride (default kernel_size), padding (0, at most
  -- half the kernel; pads with -inf), dilation (1), ceil_mode (false),
  -- return_indices (false: then also 1-based positions in L, int64).
  -- @return the output (N, C, OL), and the indices when asked
  function F.max_pool1d(input, ...)
    return max_pool("max_pool1d", input, check.args("max_pool1d", MAX, select("#", ...), ...), 1)
  end

  --- Max over sliding windows of (N, C, H, W) or (C, H, W); the arguments
  -- of F.max_pool1d, sizes as a number or {h, w}; indices are 1-based flat
  -- positions in H*W.
  function F.max_pool2d(input, ...)
    return max_pool("max_pool2d", input, check.args("max_pool2d", MAX, select("#", ...), ...), 2)
  end

  --- Mean over sliding windows of (N, C, H, W) or (C, H, W).
  -- Arguments: kernel_size, stride (default kernel_size), padding (0, zeros,
  -- at most half the kernel), ceil_mode (false), count_include_pad (true:
  -- padding counts in the divisor), divisor_override (a number, nil).
  function F.avg_pool2d(input, ...)
    local fname = "avg_pool2d"
    local a = check.args(fname, AVG, select("#", ...), ...)
    local x4, added = batched(fname, input, 2)
    local o = {
      k = sizes(fname, a.kernel_size, "kernel_size", 2, nil, 1),
      p = sizes(fname, a.padding, "padding", 2, 0, 0),
      d = { 1, 1 },
      ceil = check.boolean(fname, 5, a.ceil_mode, "ceil_mode", false, 3),
    }
    o.s = sizes(fname, a.stride, "stride", 2, o.k, 1)
    local include = check.boolean(fname, 6, a.count_include_pad, "count_include_pad", true, 3)
    local divisor = a.divisor_override
    if divisor ~= nil then divisor = check.integer(fname, 7, divisor, "divisor_override", nil, 1, 3) end
    local g = geometry(fname, x4, 2, o)
    local sums = windows(x4, g, g.left, g.right, 0):sum(-1)
    if divisor then return unbatch(sums / divisor, added) end
    -- the divisor of each window: its elements inside the input, or inside
    -- the input and its padding (not the ceil mode overhang)
    local plane = { x4:size(3), x4:size(4) }
    local ones = luann.ones(plane, { dtype = input.dtype, device = input.device })
    local counts
    if include then
      ones = luann.pad(ones, pad_list(g.left, g.left), "constant", 1)
      local right = { g.right[1] - g.left[1], g.right[2] - g.left[2] }
      counts = windows(ones, g, { 0, 0 }, right, 0):sum(-1)
    else
      counts = windows(ones, g, g.left, g.right, 0):sum(-1)
    end
    return unbatch(sums / counts, added)
  end

  --- Mean over adaptive windows: (N, C, H, W) or (C, H, W) to output_size
  -- (a number or {h, w}, nil entries keep the input's), window i spanning
  -- floor(i*H/OH) .. ceil((i+1)*H/OH) - 1 (0-based), as two matmuls.
  function F.adaptive_avg_pool2d(input, ...)
    local fname = "adaptive_avg_pool2d"
    local a = check.args(fname, { "output_size" }, select("#", ...), ...)
    local x4, added = batched(fname, input, 2)
    local out = adaptive_size(fname, a.output_size, x4)
    local mats = {}
    for i = 1, 2 do
      local len = x4:size(2 + i)
      local start, stop = bounds(len, out[i], input.device)
      local j = luann.arange(len, { dtype = "float64", device = input.device }):view(1, len)
      local inside = j:ge(start):to(input.dtype) * j:lt(stop):to(input.dtype)
      mats[i] = inside / (stop - start):to(input.dtype)
    end
    return unbatch(luann.matmul(luann.matmul(mats[1], x4), mats[2]:t()), added)
  end

  --- Max over adaptive windows (as F.adaptive_avg_pool2d's); with
  -- return_indices also the 1-based flat positions in H*W (int64).
  function F.adaptive_max_pool2d(input, ...)
    local fname = "adaptive_max_pool2d"
    local a = check.args(fname, { "output_size", "return_indices" }, select("#", ...), ...)
    local x4, added = batched(fname, input, 2)
    local out = adaptive_size(fname, a.output_size, x4)
    local indices = check.boolean(fname, 3, a.return_indices, "return_indices", false, 3)
    -- each window as k rows (or columns) from its start, the last repeated
    -- where it is shorter than the longest, k: a repeat cannot change a max
    local sel, k = {}, {}
    for i = 1, 2 do
      local start, stop = bounds(x4:size(2 + i), out[i], input.device)
      k[i] = math.tointeger((stop - start):max():item())
      local r = luann.arange(k[i], { dtype = "float64", device = input.device }):view(1, k[i])
      sel[i] = (luann.minimum(start + r, stop - 1) + 1):long():view(-1)
    end
    local function gathered(t, base, lead) -- t (lead..., H, W) -> (lead..., OH, OW, K)
      t = t:index_select(base + 1, sel[1]):index_select(base + 2, sel[2])
      local shape = {}
      for i = 1, base do shape[i] = t:size(i) end
      local grid = { out[1], k[1], out[2], k[2] }
      for i = 1, 4 do shape[base + i] = grid[i] end
      t = t:view(table.unpack(shape))
      local perm = {}
      for i = 1, base do perm[i] = i end
      for _, d in ipairs { 1, 3, 2, 4 } do perm[#perm + 1] = base + d end
      t = t:permute(table.unpack(perm))
      shape = {}
      for i = 1, base do shape[i] = t:size(i) end
      shape[base + 1], shape[base + 2], shape[base + 3] = out[1], out[2], k[1] * k[2]
      return t:reshape(table.unpack(shape))
    end
    local vals, idx = gathered(x4, 2):max(-1)
    if not indices then return unbatch(vals, added) end
    local pos = gathered(positions({ x4:size(3), x4:size(4) }, input.device), 0)
    return unbatch(vals, added), unbatch(pick(pos, idx), added)
  end
end
