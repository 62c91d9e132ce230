--- data.transforms: image transforms on tensors, as torchvision.transforms.
-- Each takes an image (C, H, W) or a whole batch (N, C, H, W) and works with
-- tensor ops only (no Lua per pixel), each sample of a batch drawn on its own.
-- @usage local T = luann.data.transforms
-- local augment = T.Compose({ T.RandomCrop(28, {padding = 4}), T.RandomHorizontalFlip(),
--   T.Normalize({0.2860}, {0.3530}) })
-- for x, y in loader do x = augment(x) ... end
local luann = require "luann"
local class = require "luann.utils.class"
local check = require "luann.utils.check"

local transforms = {}

-- x as a batch (N, C, H, W), and whether it was a single image.
local function as_batch(fname, x)
  check.tensor(fname, 1, x, "image", 3)
  if x:dim() == 3 then return x:unsqueeze(1), true end
  if x:dim() == 4 then return x, false end
  check.error(string.format("%s: expected an image (C,H,W) or a batch (N,C,H,W), got shape %s",
    fname, check.shape_str(x)), 2)
end

local function rand(n, like, generator)
  return luann.rand({ n }, { dtype = "float32", device = like.device, generator = generator })
end

--- Compose: the transforms in order.
transforms.Compose = class.new("Compose")

--- @param list a list of transforms (anything callable)
function transforms.Compose:__init(list)
  if type(list) ~= "table" then check.error("Compose: bad argument #1 (a list of transforms expected)", 2) end
  self.transforms = {}
  for i, t in ipairs(list) do
    local mt = getmetatable(t)
    if type(t) ~= "function" and not (type(mt) == "table" and mt.__call) then
      check.error(string.format("Compose: entry %d is a %s, not a transform", i, class.typename(t)), 2)
    end
    self.transforms[i] = t
  end
end

function transforms.Compose.__call(self, x)
  for _, t in ipairs(self.transforms) do x = t(x) end
  return x
end

--- Normalize: (x - mean) / std per channel.
transforms.Normalize = class.new("Normalize")

local function channel_values(fname, v, name)
  if type(v) == "number" then return { v } end
  if type(v) ~= "table" or #v == 0 then
    check.error(string.format("%s: bad argument '%s' (a number or a list per channel expected)", fname, name), 2)
  end
  local r = {}
  for i = 1, #v do r[i] = check.number(fname, 1, v[i], name, nil, nil, nil, 4) end
  return r
end

--- @param mean a number or one per channel
-- @param std a number or one per channel, none zero
function transforms.Normalize:__init(mean, std)
  self.mean = channel_values("Normalize", mean, "mean")
  self.std = channel_values("Normalize", std, "std")
  for _, s in ipairs(self.std) do
    if s == 0 then check.error("Normalize: std must not be zero", 2) end
  end
end

function transforms.Normalize.__call(self, x)
  local b, single = as_batch("Normalize", x)
  local c = b:size(2)
  for _, name in ipairs({ "mean", "std" }) do
    if #self[name] ~= 1 and #self[name] ~= c then
      check.error(string.format("Normalize: %d %s values for an image of %d channels", #self[name], name, c), 2)
    end
  end
  local opts = { dtype = b.dtype, device = b.device }
  local mean = luann.tensor(self.mean, opts):view(1, -1, 1, 1)
  local std = luann.tensor(self.std, opts):view(1, -1, 1, 1)
  local y = (b - mean) / std
  return single and y:squeeze(1) or y
end

--- RandomCrop: a size (h, w) window at a random place of the image padded
-- by `padding` on each side, each sample its own place.
transforms.RandomCrop = class.new("RandomCrop")

--- @param size a number or {h, w}
-- @param opts {padding = 0, fill = 0, generator = nil}
function transforms.RandomCrop:__init(size, opts)
  local fname = "RandomCrop"
  if type(size) == "number" then size = { size, size } end
  if type(size) ~= "table" or #size ~= 2 then
    check.error(fname .. ": bad argument #1 'size' (a number or {h, w} expected)", 2)
  end
  self.size = { check.integer(fname, 1, size[1], "size", nil, 1, 3), check.integer(fname, 1, size[2], "size", nil, 1, 3) }
  opts = check.options(fname, 2, opts, 3)
  check.known_options(fname, opts, { padding = true, fill = true, generator = true }, 3)
  self.padding = check.integer(fname, 2, opts.padding, "padding", 0, 0, 3)
  self.fill = check.number(fname, 2, opts.fill, "fill", 0, nil, nil, 3)
  self.generator = opts.generator
end

function transforms.RandomCrop.__call(self, x)
  local b, single = as_batch("RandomCrop", x)
  local p = self.padding
  if p > 0 then b = luann.nn.functional.pad(b, { p, p, p, p }, "constant", self.fill) end
  local n, c, hp, wp = b:size(1), b:size(2), b:size(3), b:size(4)
  local h, w = self.size[1], self.size[2]
  if h > hp or w > wp then
    check.error(string.format("RandomCrop: a %dx%d crop of an image padded to %dx%d", h, w, hp, wp), 2)
  end
  -- each sample's top-left corner, then its rows and columns as gather indices
  local top = (rand(n, b, self.generator) * (hp - h + 1)):floor():long():clamp(0, hp - h)
  local left = (rand(n, b, self.generator) * (wp - w + 1)):floor():long():clamp(0, wp - w)
  local opts = { dtype = "int64", device = b.device }
  local rows = top:view(n, 1, 1, 1) + luann.arange(1, h + 1, opts):view(1, 1, h, 1)
  local cols = left:view(n, 1, 1, 1) + luann.arange(1, w + 1, opts):view(1, 1, 1, w)
  local y = b:gather(3, rows:expand(n, c, h, wp)):gather(4, cols:expand(n, c, h, w))
  return single and y:squeeze(1) or y
end

--- RandomHorizontalFlip: each sample mirrored left-right with probability p.
transforms.RandomHorizontalFlip = class.new("RandomHorizontalFlip")

--- @param p default 0.5
-- @param opts {generator = nil}
function transforms.RandomHorizontalFlip:__init(p, opts)
  self.p = check.number("RandomHorizontalFlip", 1, p, "p", 0.5, 0, 1, 3)
  opts = check.options("RandomHorizontalFlip", 2, opts, 3)
  check.known_options("RandomHorizontalFlip", opts, { generator = true }, 3)
  self.generator = opts.generator
end

function transforms.RandomHorizontalFlip.__call(self, x)
  local b, single = as_batch("RandomHorizontalFlip", x)
  local n, w = b:size(1), b:size(4)
  local reversed = luann.arange(w, 0, -1, { dtype = "int64", device = b.device })
  local flip = rand(n, b, self.generator):lt(self.p):view(n, 1, 1, 1)
  local y = luann.where(flip, b:index_select(4, reversed), b)
  return single and y:squeeze(1) or y
end

return transforms
