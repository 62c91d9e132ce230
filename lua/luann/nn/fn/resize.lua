--- Resizing for nn.functional: PyTorch's F.interpolate, composed from
-- index_select and arithmetic, so the backward (index_add) and the OpenCL
-- backend come from the parts. Each spatial dim is resized on its own:
-- nearest picks one source row per output row, the linear modes mix two
-- with weights, and those indices and weights are small tensors of the
-- output's length, worked out here per dim. Options by position (PyTorch's
-- order) or by name in a trailing table.
-- @usage F.interpolate(x, {scale_factor = 2})                      -- nearest
-- F.interpolate(x, {size = {64, 64}, mode = "bilinear", align_corners = false})
local luann = require "luann"
local check = require "luann.utils.check"

local NAMES = { "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor",
  "antialias" }
local MODES = { "nearest", "nearest-exact", "linear", "bilinear", "trilinear" }
-- the spatial dims each interpolating mode takes; the nearest modes take 1 to 3
local LINEAR = { linear = 1, bilinear = 2, trilinear = 3 }
local LAYOUT = { "(N, C, L)", "(N, C, H, W)", "(N, C, D, H, W)" }

local function shape_str(s) return "(" .. table.concat(s, ",") .. ")" end

-- A number as C's float holds it: PyTorch's nearest kernels work in float32.
local function f32(v) return (string.unpack("f", string.pack("f", v))) end

-- nd values (size or scale_factor) from a number or a list of nd, each
-- checked by get(value).
local function per_dim(v, name, nd, x, get)
  local list = {}
  if type(v) == "table" then
    if rawlen(v) ~= nd then
      check.error(string.format("interpolate: %s must be a number or a list of %d (one per spatial "
        .. "dim of input %s), got %d numbers", name, nd, check.shape_str(x), rawlen(v)), 2)
    end
    for i = 1, nd do list[i] = get(rawget(v, i)) end
  else
    local one = get(v)
    for i = 1, nd do list[i] = one end
  end
  return list
end

-- 0, 1, ..., n-1 as float64 on the CPU: where the rows and weights are
-- worked out, the same for every backend.
local function steps(n) return luann.arange(n, { dtype = "float64" }) end

-- A CPU tensor of indices or weights on x's device.
local function beside(x, t)
  if x.device == "cpu" then return t end
  return t:to(x.device)
end

-- 1-based source rows (int64) of PyTorch's nearest modes for n outputs from
-- len inputs: floor(dst * r) ("nearest", its legacy rule) or
-- floor((dst + 0.5) * r) ("nearest-exact"), r = 1/scale_factor or len/n.
-- Rounded as PyTorch's forward kernel rounds: r and the product in the
-- input's precision (float32 but for float64), then floorf, so float32 once
-- more. That can differ from exact arithmetic by a row: 41 * (2/82) gives
-- row 0 in float32, and 33 / 2.2 gives row 15 (14.999...98 in float64,
-- rounded up by floorf).
local function nearest_rows(len, n, scale, exact, single)
  local r = scale and 1 / scale or len / n
  if single then r = f32(r) end
  local j = steps(n)
  if exact then j = j + 0.5 end
  -- j * r is exact in float64 for a float32 r; float() rounds as floorf's argument
  return (j * r):float():floor():clamp(nil, len - 1):long() + 1
end

-- PyTorch's linear source coordinates (upsample_bilinear2d and kin):
-- src = r dst with align_corners (r = (len-1)/(n-1)), else
-- max(r (dst + 0.5) - 0.5, 0) with r = 1/scale_factor or len/n; output dst
-- mixes rows floor(src) and the next one (the last row repeats), weighted
-- 1 - t and t for t = src - floor(src). In float64.
-- @return the rows (1-based, int64) and their weights (float64), n each
local function linear_rows(len, n, scale, align)
  local r
  if align then r = n > 1 and (len - 1) / (n - 1) or 0
  else r = scale and 1 / scale or len / n end
  local j = steps(n)
  local src = align and j * r or ((j + 0.5) * r - 0.5):clamp(0, nil)
  local lo = src:floor():clamp(nil, len - 1)
  local t = (src - lo):clamp(0, 1)
  return lo:long() + 1, (lo + 1):clamp(nil, len - 1):long() + 1, 1 - t, t
end

-- x resized along dim d (n rows from len), by one of the modes.
local function resize_dim(x, d, len, n, scale, mode, align)
  if not LINEAR[mode] then
    local rows = nearest_rows(len, n, scale, mode == "nearest-exact", x.dtype ~= "float64")
    return x:index_select(d, beside(x, rows))
  end
  -- PyTorch copies a dim whose size does not change, whatever the scale
  if n == len then return x end
  local lo, hi, w_lo, w_hi = linear_rows(len, n, scale, align)
  local shape = { n } -- the weights broadcast along d: (n, 1, ..., 1)
  for _ = d + 1, x:dim() do shape[#shape + 1] = 1 end
  w_lo, w_hi = beside(x, w_lo:to(x.dtype):view(shape)), beside(x, w_hi:to(x.dtype):view(shape))
  return x:index_select(d, beside(x, lo)) * w_lo + x:index_select(d, beside(x, hi)) * w_hi
end

-- The mode, checked against the input's dims. Errors at the user's line.
local function read_mode(x, a)
  local mode = check.choice("interpolate", 4, a.mode, "mode", "nearest", MODES, 4)
  local nd, want = x:dim() - 2, LINEAR[mode]
  if want and nd ~= want then
    check.error(string.format("interpolate: mode \"%s\" needs a %d-d input %s, got shape %s",
      mode, want + 2, LAYOUT[want], check.shape_str(x)), 2)
  elseif not want and (nd < 1 or nd > 3) then
    check.error(string.format("interpolate: mode \"%s\" needs a 3-d, 4-d or 5-d input "
      .. "(N, C, spatial...), got shape %s", mode, check.shape_str(x)), 2)
  end
  if want and not x.dtype:find("^float") then
    check.error(string.format("interpolate: mode \"%s\" needs a floating point input, got %s",
      mode, x.dtype), 2)
  end
  if not want and a.align_corners ~= nil then
    check.error(string.format("interpolate: align_corners is for the interpolating modes "
      .. "(linear, bilinear, trilinear), not \"%s\"", mode), 2)
  end
  return mode, nd
end

-- The output size of each spatial dim, and the scale factors the kernels
-- use (nil: len / n). Errors at the user's line.
local function read_sizes(x, a, nd)
  if a.size ~= nil and a.scale_factor ~= nil then
    check.error("interpolate: give size or scale_factor, not both", 2)
  elseif a.size == nil and a.scale_factor == nil then
    check.error("interpolate: size or scale_factor is required", 2)
  end
  local recompute = check.boolean("interpolate", 6, a.recompute_scale_factor,
    "recompute_scale_factor", false, 4)
  if a.size ~= nil then
    if recompute then
      check.error("interpolate: recompute_scale_factor is for scale_factor, not an explicit size", 2)
    end
    local out = per_dim(a.size, "size", nd, x, function(v)
      local n = check.integer("interpolate", 2, v, "size", nil, 1, 6)
      return n
    end)
    return out, nil
  end
  local scales = per_dim(a.scale_factor, "scale_factor", nd, x, function(v)
    v = check.number("interpolate", 3, v, "scale_factor", nil, nil, nil, 6)
    if not (v > 0 and v < math.huge) then
      check.error("interpolate: bad argument #3 'scale_factor' (must be positive and finite, got "
        .. tostring(v) .. ")", 2)
    end
    return v
  end)
  local out = {}
  for i = 1, nd do
    out[i] = math.floor(x:size(i + 2) * scales[i])
    if math.type(out[i]) ~= "integer" then
      check.error(string.format("interpolate: scale_factor %s makes dim %d of input %s too large",
        tostring(scales[i]), i + 2, check.shape_str(x)), 2)
    elseif out[i] < 1 then
      local sizes = {}
      for k = 1, nd do sizes[k] = math.floor(x:size(k + 2) * scales[k]) end
      check.error(string.format("interpolate: scale_factor gives an empty output %s from input %s",
        shape_str(sizes), check.shape_str(x)), 2)
    end
  end
  return out, not recompute and scales or nil
end

local function interpolate(x, a)
  check.tensor("interpolate", 1, x, "input", 3)
  local mode, nd = read_mode(x, a)
  local align = check.boolean("interpolate", 5, a.align_corners, "align_corners", false, 3)
  if check.boolean("interpolate", 7, a.antialias, "antialias", false, 3) then
    check.error("interpolate: antialias is not supported", 2)
  end
  for i = 3, x:dim() do
    if x:size(i) == 0 then
      check.error("interpolate: input " .. check.shape_str(x) .. " has an empty spatial dim", 2)
    end
  end
  local out, scales = read_sizes(x, a, nd)
  local y = x
  for i = 1, nd do
    y = resize_dim(y, i + 2, x:size(i + 2), out[i], scales and scales[i], mode, align)
  end
  if y == x then y = x:clone() end -- a new tensor, as PyTorch gives
  return y
end

return function(F)
  --- Resizes (N, C, L), (N, C, H, W) or (N, C, D, H, W) to size, or by
  -- scale_factor, as PyTorch's F.interpolate.
  -- Arguments: size (a number or one per spatial dim) or scale_factor (the
  -- same, the output floor(len * scale_factor)); mode: "nearest" (default:
  -- row floor(dst * len / out), or floor(dst / scale_factor) when that is
  -- given, PyTorch's legacy rule), "nearest-exact" (the nearest center),
  -- "linear" (3-d), "bilinear" (4-d) or "trilinear" (5-d);
  -- align_corners (linear modes; default false: pixel centers, sources
  -- clamped at 0; true: the corner pixels align and scale_factor does not
  -- matter); recompute_scale_factor (true: after computing the size, use
  -- len / out rather than scale_factor); antialias (false only).
  -- @return a tensor (N, C, out...) of the input's dtype and device
  -- @usage F.interpolate(x, nil, 2)  F.interpolate(x, {4, 4}, {mode = "bilinear"})
  function F.interpolate(input, ...)
    local y = interpolate(input, check.args("interpolate", NAMES, select("#", ...), ...))
    return y
  end
end
