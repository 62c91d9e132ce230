--- luann.image: PNG files (through libpng) and image grids.
--
--    luann.image.save("samples.png", batch, {nrow = 8})   -- (N,C,H,W) as a grid
--    local img = luann.image.load("cat.png")              -- (C,H,W) float32 in [0,1]
--
-- Pixels are float tensors in [0,1] (clamped, then rounded to bytes when
-- saved) or uint8 tensors of bytes. Channels: 1 gray, 2 gray+alpha, 3 RGB,
-- 4 RGBA. A NaN or infinite value is an error, never a silently black or
-- white pixel: it usually means the model diverged. Tensors on an OpenCL
-- device are copied to the host. Files are written atomically (a temp file
-- renamed over the path), as luann.save does.
-- @module luann.image
local luann = require "luann"
local check = require "luann.utils.check"
local class = require "luann.utils.class"

local C = luann._image_module()
local image = {}

local MAX_PADDING = 65535 -- far past any use; keeps sizes far from overflow
local GRID_OPTIONS = { nrow = true, padding = true, pad_value = true, normalize = true }

local call = require("luann.utils.check").call

local function fail(fname, fmt, ...)
  check.error(fname .. ": " .. fmt:format(...), 2)
end

local function check_pixels(fname, t)
  if t.dtype ~= "uint8" and t.dtype ~= "float32" and t.dtype ~= "float64" then
    fail(fname, "expected a float or uint8 tensor, got %s", t.dtype)
  end
end

-- t rescaled to [0,1] by its own min and max (all zeros when constant).
local function normalize(t)
  t = t:to("float32")
  local lo, hi = t:min():item(), t:max():item()
  return (t - lo) / math.max(hi - lo, 1e-5)
end

-- The grid of a checked (N,C,H,W) CPU batch; torchvision's layout. Each
-- image gets its padding above and left, the batch is filled up to whole
-- rows with blank cells, and one reshape lays the cells out (no loop over
-- the images: a batch of a million 1x1 images is one copy).
local function grid_of(batch, nrow, padding, pad_value)
  local n, c, h, w = batch:size(1), batch:size(2), batch:size(3), batch:size(4)
  local cols = math.min(nrow, n)
  local rows = (n + cols - 1) // cols
  local cell_h, cell_w = h + padding, w + padding
  local cells = luann.pad(batch, { padding, 0, padding, 0, 0, 0, 0, rows * cols - n },
    "constant", pad_value)
  local grid = cells:reshape(rows, cols, c, cell_h, cell_w):permute(3, 1, 4, 2, 5)
    :reshape(c, rows * cell_h, cols * cell_w)
  return luann.pad(grid, { 0, padding, 0, padding }, "constant", pad_value)
end

local function grid_options(fname, opts, pos)
  opts = check.options(fname, pos, opts, 2)
  check.known_options(fname, opts, GRID_OPTIONS, 2)
  local o = {
    nrow = check.integer(fname, pos, opts.nrow, "nrow", 8, 1, 2),
    padding = check.integer(fname, pos, opts.padding, "padding", 2, 0, 2),
    pad_value = check.number(fname, pos, opts.pad_value, "pad_value", 0, nil, nil, 2),
    normalize = check.boolean(fname, pos, opts.normalize, "normalize", false, 2),
  }
  if o.padding > MAX_PADDING then
    fail(fname, "bad argument #%d 'padding' (must be <= %d, got %d)", pos, MAX_PADDING, o.padding)
  end
  return o
end

-- make_grid's work; save's options are its argument `pos`.
local function make_grid(fname, batch, opts, pos)
  check.tensor(fname, 1, batch, "batch", 2)
  check_pixels(fname, batch)
  local o = grid_options(fname, opts, pos)
  if batch:dim() == 2 then batch = batch:reshape(1, 1, batch:size(1), batch:size(2)) end
  if batch:dim() == 3 then batch = batch:reshape(1, batch:size(1), batch:size(2), batch:size(3)) end
  if batch:dim() ~= 4 or batch:size(2) < 1 or batch:size(2) > 4 then
    fail(fname, "expected (N,C,H,W) with C = 1 to 4 channels, got shape %s",
      check.shape_str(batch))
  end
  if batch:numel() == 0 then
    fail(fname, "the batch is empty (shape %s)", check.shape_str(batch))
  end
  batch = batch:detach():to("cpu")
  if o.normalize then batch = normalize(batch) end
  if batch.dtype == "uint8" and (o.pad_value < 0 or o.pad_value > 255) then
    fail(fname, "pad_value of a uint8 grid must be 0 to 255, got %s", tostring(o.pad_value))
  end
  return grid_of(batch, o.nrow, o.padding, o.pad_value), o
end

--- Tiles a batch of images into one image, as torchvision's make_grid:
-- nrow images per row, `padding` pixels of `pad_value` between and around
-- them (a batch of one is padded too; the channels are kept, gray stays
-- gray).
-- @param batch (N,C,H,W), C = 1 to 4; a (C,H,W) or (H,W) image is a batch of one
-- @param opts {nrow = 8, padding = 2, pad_value = 0, normalize = false};
--   normalize rescales the whole batch to [0,1] by its min and max (the grid
--   is then float32); pad_value is in the batch's units (bytes for uint8)
-- @return (C, rows*(H+padding)+padding, cols*(W+padding)+padding), on the CPU
-- @usage local g = luann.image.make_grid(x, {nrow = 4, pad_value = 1})
function image.make_grid(batch, opts)
  return (make_grid("image.make_grid", batch, opts, 2))
end

--- Writes a tensor as a PNG file.
-- @param path where to write (replaced atomically)
-- @param t (H,W), (C,H,W) with C = 1 to 4, or a batch (N,C,H,W) saved as
--   a grid; float values in [0,1] (clamped, rounded) or uint8 bytes
-- @param opts make_grid's options; normalize applies to a single image too
-- @usage luann.image.save("out.png", luann.rand(3, 32, 32))
function image.save(path, t, opts)
  if type(path) ~= "string" then
    check.error("image.save: bad argument #1 'path' (string expected, got " .. class.typename(path) .. ")", 2)
  end
  check.tensor("image.save", 2, t, "tensor")
  check_pixels("image.save", t)
  local dim = t:dim()
  if dim < 2 or dim > 4 or (dim >= 3 and (t:size(dim - 2) < 1 or t:size(dim - 2) > 4)) then
    fail("image.save", "expected (H,W), (C,H,W) or (N,C,H,W) with C = 1 to 4 "
      .. "channels, got shape %s", check.shape_str(t))
  end
  if dim == 4 then
    t = make_grid("image.save", t, opts, 3)
  else
    local o = grid_options("image.save", opts, 3)
    if dim == 2 then t = t:reshape(1, t:size(1), t:size(2)) end
    if o.normalize then t = normalize(t:detach()) end
  end
  call(C.write_png, path, t)
end

--- Reads a PNG file: gray, gray+alpha, RGB, RGBA or palette, 1 to 16 bits
-- per sample (palettes become RGB, transparency an alpha channel, 16 bits
-- are scaled to 8).
-- @param path the file
-- @param opts {dtype = "float32"}: float32 or float64 in [0,1], or uint8
-- @return (C,H,W) tensor on the CPU, C = 1 to 4
-- @usage local img = luann.image.load("digit.png", {dtype = "uint8"})
function image.load(path, opts)
  if type(path) ~= "string" then
    check.error("image.load: bad argument #1 'path' (string expected, got " .. class.typename(path) .. ")", 2)
  end
  opts = check.options("image.load", 2, opts)
  check.known_options("image.load", opts, { dtype = true })
  local dtype = check.choice("image.load", 2, opts.dtype, "dtype", "float32",
    { "float32", "float64", "uint8" })
  local t = call(C.read_png, path)
  if dtype == "uint8" then return t end
  return t:to(dtype) / 255
end

return image
