-- image_spec.lua: luann.image: PNG round trips (gray, gray+alpha, RGB, RGBA;
-- float and uint8; odd sizes), grids (every size of N = 1..10 against
-- nrow and padding, pixel by pixel), a reader and a writer that share
-- nothing with libpng (spec/support/png_zlib.py, Python's zlib) in both
-- directions, every PNG variant load reads, and the errors: shapes,
-- dtypes, values, paths, damaged and hostile files. (#opencl) a tensor on
-- an OpenCL device saves like its CPU copy.
local luann = require "luann"
local helpers = require "helpers"
local forge = require "forge"

local image = luann.image
local flat, write_file, read_file = helpers.flat, helpers.write_file, helpers.read_file

local tmp, remove_tmpfiles = helpers.temp_paths(".png")
local err_of = helpers.err_of

-- The byte a float pixel is written as: clamped to [0,1], rounded.
local function to_byte(v)
  return math.floor(math.min(math.max(v, 0), 1) * 255 + 0.5)
end

local function bytes_of(t) -- a uint8 tensor's values, flat
  return flat(t:tolist())
end

-- Deterministic bytes for shape (c, h, w): neighbours differ, so a pixel
-- that lands one place off shows.
local function pattern(c, h, w, seed)
  local v = {}
  for i = 1, c * h * w do v[i] = (i * 37 + (seed or 0) * 101) % 256 end
  return (luann.tensor(v, { dtype = "uint8" }):reshape(c, h, w))
end

local SUPPORT = "spec/support/png_zlib.py"

-- Python's reading of a PNG: width, height, channels and the samples
-- (rows, pixels interleaved).
local function python_decode(path)
  local p = assert(io.popen("python3 " .. SUPPORT .. " decode '" .. path .. "' 2>&1"))
  local out = p:read("a")
  assert(p:close(), "png_zlib.py decode failed: " .. out)
  local w, h, c, rest = out:match("^(%d+) (%d+) (%d+)\n(.*)$")
  assert(w, "unexpected output: " .. out:sub(1, 200))
  local samples = {}
  for n in rest:gmatch("%d+") do samples[#samples + 1] = tonumber(n) end
  return tonumber(w), tonumber(h), tonumber(c), samples
end

local function json(v)
  if type(v) == "table" then
    local parts = {}
    if v[1] ~= nil or next(v) == nil then
      for i, x in ipairs(v) do parts[i] = json(x) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    for k, x in pairs(v) do parts[#parts + 1] = ('"%s":%s'):format(k, json(x)) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return tostring(v)
end

-- A PNG written by Python from spec (see png_zlib.py); returns its path.
local function python_encode(spec)
  local path, input = tmp(), tmp(".json")
  write_file(input, json(spec))
  local p = assert(io.popen("python3 " .. SUPPORT .. " encode '" .. path .. "' < '" .. input .. "' 2>&1"))
  local out = p:read("a")
  assert(p:close(), "png_zlib.py encode failed: " .. out)
  return path
end

-- (C,H,W) values in the (H,W,C) order of a PNG's samples.
local function interleaved(t)
  local c, h, w = t:size(1), t:size(2), t:size(3)
  local v, out = flat(t:tolist()), {}
  for y = 0, h - 1 do
    for x = 0, w - 1 do
      for k = 0, c - 1 do out[#out + 1] = v[k * h * w + y * w + x + 1] end
    end
  end
  return out
end

local function no_temp_files_beside(path)
  local dir, name = path:match("^(.*)/([^/]*)$")
  local p = io.popen("ls -a '" .. (dir == "" and "/" or dir) .. "'")
  for f in p:lines() do
    assert.is_nil(f:find(name .. ".tmp.", 1, true), "temp file left: " .. f)
  end
  p:close()
end

describe("luann.image", function()
  teardown(function()
    remove_tmpfiles()
  end)

  describe("save and load", function()
    it("round-trips uint8 images of every channel count and odd sizes", function()
      for _, c in ipairs { 1, 2, 3, 4 } do
        for _, hw in ipairs { { 1, 1 }, { 7, 5 }, { 5, 7 }, { 1, 13 }, { 13, 1 } } do
          local t = pattern(c, hw[1], hw[2], c)
          local path = tmp()
          image.save(path, t)
          local back = image.load(path, { dtype = "uint8" })
          assert.same({ c, hw[1], hw[2] }, back.shape)
          assert.equal("uint8", back.dtype)
          assert.same(bytes_of(t), bytes_of(back))
        end
      end
    end)

    it("writes floats as clamped, rounded bytes and loads them as bytes / 255", function()
      local v = { -1, -0.001, 0, 0.2, 0.5, 0.999, 1, 1.5, 1 / 255, 254.4 / 255, 254.6 / 255, 0.75 }
      for _, dtype in ipairs { "float32", "float64" } do
        local t = luann.tensor(v, { dtype = dtype }):reshape(3, 2, 2)
        local path = tmp()
        image.save(path, t)
        local want = {}
        for i, x in ipairs(flat(t:tolist())) do want[i] = to_byte(x) end
        assert.same(want, bytes_of(image.load(path, { dtype = "uint8" })))
        local f = image.load(path)
        assert.equal("float32", f.dtype)
        local got = flat(f:tolist())
        for i = 1, #want do assert.near(want[i] / 255, got[i], 1e-7) end
        assert.equal("float64", image.load(path, { dtype = "float64" }).dtype)
      end
    end)

    it("round-trips a random float image exactly after one quantization", function()
      luann.manual_seed(3)
      local t = luann.rand(3, 7, 5)
      local path, path2 = tmp(), tmp()
      image.save(path, t)
      local once = image.load(path)
      image.save(path2, once)
      assert.same(bytes_of(image.load(path, { dtype = "uint8" })), bytes_of(image.load(path2, { dtype = "uint8" })))
      local want = {}
      for i, x in ipairs(flat(t:tolist())) do want[i] = to_byte(x) end
      assert.same(want, bytes_of(image.load(path, { dtype = "uint8" })))
    end)

    it("takes (H,W) and (1,H,W) as gray, views as they look, and tensors that require grad", function()
      local t = pattern(1, 4, 6)
      local a, b = tmp(), tmp()
      image.save(a, t:reshape(4, 6))
      image.save(b, t)
      assert.equal(read_file(a), read_file(b))
      assert.same({ 1, 4, 6 }, image.load(a).shape)
      local v = pattern(1, 6, 4):select(1, 1):t() -- (4,6), not contiguous
      image.save(a, v)
      assert.same(bytes_of(v), bytes_of(image.load(a, { dtype = "uint8" })))
      local g = luann.rand(3, 2, 2, { requires_grad = true })
      image.save(a, g)
      assert.equal(12, image.load(a):numel())
    end)

    it("replaces a file atomically and keeps no temp file", function()
      local path = tmp()
      write_file(path, "old")
      image.save(path, pattern(3, 2, 2))
      assert.same({ 3, 2, 2 }, image.load(path).shape)
      no_temp_files_beside(path)
    end)

    it("normalizes a single image when asked", function()
      local t = luann.tensor({ { -2, 0 }, { 2, 6 } }, { dtype = "float32" })
      local path = tmp()
      image.save(path, t, { normalize = true })
      assert.same({ 0, 64, 128, 255 }, bytes_of(image.load(path, { dtype = "uint8" })))
    end)
  end)

  describe("make_grid", function()
    -- The value of image k (1-based), channel c, pixel (y, x) in the batch.
    local function value(k, c, y, x) return (k * 29 + c * 7 + y * 3 + x) % 250 + 1 end

    local function batch(n, c, h, w)
      local v = {}
      for k = 1, n do
        for ch = 1, c do
          for y = 1, h do
            for x = 1, w do v[#v + 1] = value(k, ch, y, x) end
          end
        end
      end
      return luann.tensor(v, { dtype = "uint8" }):reshape(n, c, h, w)
    end

    it("lays out N = 1..10 images for each nrow and padding, pixel by pixel", function()
      local c, h, w = 2, 3, 2
      for n = 1, 10 do
        for _, nrow in ipairs { 1, 3, 4, 8, 10 } do
          for _, pad in ipairs { 0, 1, 3 } do
            local g = image.make_grid(batch(n, c, h, w), { nrow = nrow, padding = pad })
            local cols = math.min(nrow, n)
            local rows = (n + cols - 1) // cols
            local H, W = rows * (h + pad) + pad, cols * (w + pad) + pad
            assert.same({ c, H, W }, g.shape, ("n=%d nrow=%d padding=%d"):format(n, nrow, pad))
            local v = g:tolist()
            for ch = 1, c do
              for Y = 0, H - 1 do
                for X = 0, W - 1 do
                  -- which cell, and where inside it; image k at (r, q)
                  local r, q = (Y - pad) // (h + pad), (X - pad) // (w + pad)
                  local y, x = (Y - pad) % (h + pad), (X - pad) % (w + pad)
                  local k = r * cols + q + 1
                  local inside = Y >= pad and X >= pad and y < h and x < w and k <= n
                  local want = inside and value(k, ch, y + 1, x + 1) or 0
                  if v[ch][Y + 1][X + 1] ~= want then
                    error(("n=%d nrow=%d padding=%d: pixel (%d,%d,%d) is %d, expected %d"):format(
                      n, nrow, pad, ch, Y + 1, X + 1, v[ch][Y + 1][X + 1], want))
                  end
                end
              end
            end
          end
        end
      end
    end)

    it("uses torchvision's defaults: 8 per row, 2 pixels of 0", function()
      local g = image.make_grid(luann.ones(10, 3, 4, 5))
      assert.same({ 3, 2 * 6 + 2, 8 * 7 + 2 }, g.shape)
      assert.equal(0, g[1][1][1])
      assert.equal(1, g[1][3][3])
    end)

    it("fills the padding with pad_value, in the batch's units", function()
      local g = image.make_grid(luann.zeros(2, 1, 2, 2), { pad_value = 0.5, padding = 1 })
      assert.same({ 1, 4, 7 }, g.shape)
      assert.same({ 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5 }, g[1][1]:tolist())
      assert.same({ 0.5, 0, 0, 0.5, 0, 0, 0.5 }, g[1][2]:tolist())
      local u = image.make_grid(luann.zeros({ 1, 1, 1, 1 }, { dtype = "uint8" }), { pad_value = 255, padding = 1 })
      assert.same({ 255, 255, 255, 255, 0, 255, 255, 255, 255 }, flat(u:tolist()))
    end)

    it("takes a (C,H,W) or (H,W) image as a batch of one", function()
      assert.same({ 3, 6, 7 }, image.make_grid(luann.zeros(3, 2, 3)).shape)
      assert.same({ 1, 6, 7 }, image.make_grid(luann.zeros(2, 3)).shape)
    end)

    it("normalizes the whole batch by its min and max", function()
      local b = luann.tensor({ -2, 0, 2, 6 }, { dtype = "float32" }):reshape(2, 1, 1, 2)
      local g = image.make_grid(b, { normalize = true, padding = 0 })
      assert.same({ { { 0, 0.25, 0.5, 1 } } }, g:tolist())
      local u = image.make_grid(luann.tensor({ 10, 20 }, { dtype = "uint8" }):reshape(1, 1, 1, 2),
        { normalize = true, padding = 0 })
      assert.equal("float32", u.dtype)
      assert.same({ { { 0, 1 } } }, u:tolist())
      assert.same({ { { 0, 0 } } }, image.make_grid(luann.full({ 1, 1, 1, 2 }, 7, { dtype = "float32" }), { normalize = true, padding = 0 }):tolist())
    end)

    it("is what save writes for a batch", function()
      luann.manual_seed(5)
      local b = luann.rand(5, 3, 4, 3)
      local path = tmp()
      image.save(path, b, { nrow = 2, padding = 1, pad_value = 1 })
      local g = image.make_grid(b, { nrow = 2, padding = 1, pad_value = 1 })
      local want = {}
      for i, x in ipairs(flat(g:tolist())) do want[i] = to_byte(x) end
      assert.same(want, bytes_of(image.load(path, { dtype = "uint8" })))
    end)

    it("rejects what is not a batch of images", function()
      assert.equal("image.make_grid: expected (N,C,H,W) with C = 1 to 4 channels, got shape (2,5,3,3)",
        err_of(image.make_grid, luann.zeros(2, 5, 3, 3)))
      assert.equal("image.make_grid: expected (N,C,H,W) with C = 1 to 4 channels, got shape (4)",
        err_of(image.make_grid, luann.zeros(4)))
      assert.equal("image.make_grid: expected (N,C,H,W) with C = 1 to 4 channels, got shape (1,1,1,1,1)",
        err_of(image.make_grid, luann.zeros(1, 1, 1, 1, 1)))
      assert.equal("image.make_grid: the batch is empty (shape (0,3,2,2))",
        err_of(image.make_grid, luann.zeros(0, 3, 2, 2)))
      assert.equal("image.make_grid: expected a float or uint8 tensor, got int64",
        err_of(image.make_grid, luann.zeros({ 1, 1, 2, 2 }, { dtype = "int64" })))
      assert.equal("image.make_grid: bad argument #1 'batch' (tensor expected, got table)",
        err_of(image.make_grid, { 1, 2 }))
      assert.equal("image.make_grid: bad argument #2 'nrow' (must be >= 1, got 0)",
        err_of(image.make_grid, luann.zeros(1, 1, 2, 2), { nrow = 0 }))
      assert.equal("image.make_grid: bad argument #2 'padding' (must be >= 0, got -1)",
        err_of(image.make_grid, luann.zeros(1, 1, 2, 2), { padding = -1 }))
      assert.equal("image.make_grid: bad argument #2 'padding' (must be <= 65535, got 65536)",
        err_of(image.make_grid, luann.zeros(1, 1, 2, 2), { padding = 65536 }))
      assert.equal("image.make_grid: unknown option 'rows' (known: normalize, nrow, pad_value, padding)",
        err_of(image.make_grid, luann.zeros(1, 1, 2, 2), { rows = 2 }))
      assert.equal("image.make_grid: pad_value of a uint8 grid must be 0 to 255, got 300",
        err_of(image.make_grid, luann.zeros({ 1, 1, 2, 2 }, { dtype = "uint8" }), { pad_value = 300 }))
    end)
  end)

  describe("against a reader and a writer independent of libpng", function()
    it("Python's zlib decoder reads what save writes", function()
      for _, c in ipairs { 1, 2, 3, 4 } do
        for _, hw in ipairs { { 1, 1 }, { 7, 5 }, { 9, 16 } } do
          local t = pattern(c, hw[1], hw[2], hw[1])
          local path = tmp()
          image.save(path, t)
          local w, h, ch, samples = python_decode(path)
          assert.same({ hw[2], hw[1], c }, { w, h, ch })
          assert.same(interleaved(t), samples)
        end
      end
      luann.manual_seed(8)
      local f = luann.rand(3, 5, 7) * 1.2 - 0.1
      local path = tmp()
      image.save(path, f)
      local _, _, _, samples = python_decode(path)
      local want = {}
      for i, x in ipairs(interleaved(f)) do want[i] = to_byte(x) end
      assert.same(want, samples)
    end)

    -- Samples of a w x h image with ch channels, below `limit`.
    local function samples(w, h, ch, limit)
      local s = {}
      for i = 1, w * h * ch do s[i] = (i * 97 + 13) % limit end
      return s
    end

    -- The (C,H,W) tensor of interleaved 8-bit samples.
    local function planar(s, w, h, ch)
      local v = {}
      for k = 0, ch - 1 do
        for i = 0, w * h - 1 do v[#v + 1] = s[i * ch + k + 1] end
      end
      return v
    end

    it("load reads 8-bit gray, gray+alpha, RGB and RGBA from Python, all five filters", function()
      for ctype, ch in pairs { [0] = 1, [4] = 2, [2] = 3, [6] = 4 } do
        local s = samples(7, 6, ch, 256)
        local path = python_encode { width = 7, height = 6, color_type = ctype, bit_depth = 8, samples = s }
        local t = image.load(path, { dtype = "uint8" })
        assert.same({ ch, 6, 7 }, t.shape)
        assert.same(planar(s, 7, 6, ch), bytes_of(t))
      end
    end)

    it("load reads interlaced images", function()
      local s = samples(11, 9, 3, 256)
      local path = python_encode { width = 11, height = 9, color_type = 2, bit_depth = 8, samples = s, interlace = 1 }
      assert.same(planar(s, 11, 9, 3), bytes_of(image.load(path, { dtype = "uint8" })))
    end)

    it("load turns palettes into RGB, and a palette's tRNS into alpha", function()
      local palette = { { 255, 0, 0 }, { 0, 128, 0 }, { 1, 2, 3 }, { 200, 100, 50 } }
      local idx = samples(5, 3, 1, 4)
      local rgb, rgba = {}, {}
      local alpha = { 0, 128, 255, 255 } -- tRNS may be shorter than the palette
      for _, i in ipairs(idx) do
        for k = 1, 3 do rgb[#rgb + 1] = palette[i + 1][k] end
        for k = 1, 3 do rgba[#rgba + 1] = palette[i + 1][k] end
        rgba[#rgba + 1] = alpha[i + 1]
      end
      local path = python_encode { width = 5, height = 3, color_type = 3, bit_depth = 8, samples = idx, palette = palette }
      assert.same(planar(rgb, 5, 3, 3), bytes_of(image.load(path, { dtype = "uint8" })))
      path = python_encode { width = 5, height = 3, color_type = 3, bit_depth = 2, samples = idx,
        palette = palette, trns = { 0, 128 } }
      assert.same(planar(rgba, 5, 3, 4), bytes_of(image.load(path, { dtype = "uint8" })))
    end)

    it("load scales 1, 2 and 4-bit gray up to bytes and 16-bit samples down", function()
      for _, depth in ipairs { 1, 2, 4 } do
        local max = (1 << depth) - 1
        local s = samples(9, 4, 1, max + 1)
        local path = python_encode { width = 9, height = 4, color_type = 0, bit_depth = depth, samples = s }
        local want = {}
        for i, v in ipairs(s) do want[i] = v * 255 // max end
        assert.same(want, bytes_of(image.load(path, { dtype = "uint8" })), depth .. "-bit")
      end
      local s = { 0, 65535, 257, 32767, 32768, 128, 65407, 12345, 1000, 60000, 255, 256 }
      local path = python_encode { width = 2, height = 2, color_type = 2, bit_depth = 16, samples = s }
      local want = {}
      for i, v in ipairs(s) do want[i] = math.floor(v * 255 / 65535 + 0.5) end
      assert.same(planar(want, 2, 2, 3), bytes_of(image.load(path, { dtype = "uint8" })))
    end)

    it("load turns a gray tRNS colour into an alpha channel", function()
      local s = { 7, 8, 7, 200 }
      local path = python_encode { width = 2, height = 2, color_type = 0, bit_depth = 8, samples = s, trns = { 7 } }
      assert.same({ 7, 8, 7, 200, 0, 255, 0, 255 }, bytes_of(image.load(path, { dtype = "uint8" })))
    end)
  end)

  describe("errors", function()
    it("save names the shape it cannot write", function()
      local msg = "image.save: expected (H,W), (C,H,W) or (N,C,H,W) with C = 1 to 4 channels, got shape "
      assert.equal(msg .. "(5,3,3)", err_of(image.save, tmp(), luann.zeros(5, 3, 3)))
      assert.equal(msg .. "(7)", err_of(image.save, tmp(), luann.zeros(7)))
      assert.equal(msg .. "()", err_of(image.save, tmp(), luann.tensor(1.5)))
      assert.equal(msg .. "(1,1,1,1,1)", err_of(image.save, tmp(), luann.zeros(1, 1, 1, 1, 1)))
      assert.equal(msg .. "(2,0,3,3)", err_of(image.save, tmp(), luann.zeros(2, 0, 3, 3)))
      assert.equal("image.save: expected a (C,H,W) image with 1 to 4 channels, got shape (3,0,4)",
        err_of(image.save, tmp(), luann.zeros(3, 0, 4)))
      assert.equal("image.save: an image is 1 to 1000000 pixels on a side, got 1048576 x 1 (width x height)",
        err_of(image.save, tmp(), luann.zeros(1, 1, 1):expand(1, 1, 1 << 20)))
      assert.equal("image.save: shape (1,1048576,1048576) is more than the 1073741824 pixel bytes an image may take",
        err_of(image.save, tmp(), luann.zeros(1, 1, 1):expand(1, 1 << 20, 1 << 20)))
      assert.equal("image.save: bad argument #3 'nrow' (must be >= 1, got 0)",
        err_of(image.save, tmp(), luann.zeros(2, 1, 2, 2), { nrow = 0 }))
      assert.equal("image.save: bad argument #3 'normalize' (boolean expected, got number)",
        err_of(image.save, tmp(), luann.zeros(2, 2), { normalize = 1 }))
      assert.equal("image.save: the batch is empty (shape (0,3,2,2))",
        err_of(image.save, tmp(), luann.zeros(0, 3, 2, 2)))
    end)

    it("save names the dtype it cannot write", function()
      assert.equal("image.save: expected a float or uint8 tensor, got int64",
        err_of(image.save, tmp(), luann.zeros({ 2, 2 }, { dtype = "int64" })))
      assert.equal("image.save: expected a float or uint8 tensor, got bool",
        err_of(image.save, tmp(), luann.zeros({ 2, 2 }, { dtype = "bool" })))
      assert.equal("image.save: bad argument #2 'tensor' (tensor expected, got table)",
        err_of(image.save, tmp(), { { 1 } }))
      assert.equal("image.save: bad argument #1 'path' (string expected, got nil)",
        err_of(image.save, nil, luann.zeros(2, 2)))
    end)

    it("save refuses NaN and infinity, naming where", function()
      local t = luann.zeros(3, 2, 4)
      t[2][2][3] = 0 / 0
      assert.equal("image.save: the image holds nan at (2,2,3) (channel, row, column); PNG pixels must be finite",
        err_of(image.save, tmp(), t))
      t = luann.zeros(2, 3)
      t[1][3] = -1 / 0
      assert.equal("image.save: the image holds -inf at (1,1,3) (channel, row, column); PNG pixels must be finite",
        err_of(image.save, tmp(), t))
    end)

    it("save names the path and the OS's reason when it cannot write", function()
      assert.equal("image.save: cannot write /nonexistent-dir/x.png: No such file or directory",
        err_of(image.save, "/nonexistent-dir/x.png", luann.zeros(2, 2)))
      local file = tmp()
      write_file(file, "x")
      assert.equal("image.save: cannot write " .. file .. "/x.png: Not a directory",
        err_of(image.save, file .. "/x.png", luann.zeros(2, 2)))
      local dir = os.getenv("TMPDIR") or "/tmp"
      assert.equal("image.save: cannot write " .. dir .. ": Is a directory",
        err_of(image.save, dir, luann.zeros(2, 2)))
      no_temp_files_beside(dir)
    end)

    it("load names the path that is missing or not a file", function()
      assert.equal("image.load: cannot open /nonexistent/x.png: No such file or directory",
        err_of(image.load, "/nonexistent/x.png"))
      local dir = os.getenv("TMPDIR") or "/tmp"
      assert.equal("image.load: cannot read " .. dir .. ": Is a directory", err_of(image.load, dir))
      assert.equal("image.load: bad argument #1 'path' (string expected, got number)", err_of(image.load, 1))
      assert.equal('image.load: bad argument #2 \'dtype\' (expected one of "float32", "float64", "uint8", got "int64")',
        err_of(image.load, "x.png", { dtype = "int64" }))
      assert.equal("image.load: unknown option 'gray' (known: dtype)", err_of(image.load, "x.png", { gray = true }))
    end)

    it("load refuses files that are not PNG", function()
      local path = tmp()
      for _, bytes in ipairs { "", "\137PNG", "GIF89a..........", string.rep("\0", 100) } do
        write_file(path, bytes)
        assert.equal("image.load: " .. path .. ": not a PNG file (no PNG signature)", err_of(image.load, path))
      end
      math.randomseed(4)
      for _ = 1, 20 do
        local r = {}
        for i = 1, 64 do r[i] = string.char(math.random(0, 255)) end
        write_file(path, table.concat(r))
        assert.equal("image.load: " .. path .. ": not a PNG file (no PNG signature)", err_of(image.load, path))
        write_file(path, "\137PNG\r\n\26\n" .. table.concat(r))
        assert.truthy(err_of(image.load, path):find("image.load: " .. path .. ": ", 1, true))
      end
    end)

    it("load refuses every truncation of a valid file, and damaged bytes", function()
      local path, cut = tmp(), tmp()
      image.save(path, pattern(3, 9, 11))
      local file = read_file(path)
      for len = 8, #file - 1 do
        write_file(cut, file:sub(1, len))
        local err = err_of(image.load, cut)
        assert.truthy(err:find("image.load: " .. cut .. ": ", 1, true), err)
      end
      for i = 9, #file do -- a flipped bit anywhere: an error or an image, never a crash
        write_file(cut, file:sub(1, i - 1) .. string.char(file:byte(i) ~ 0x10) .. file:sub(i + 1))
        local ok, t = pcall(image.load, cut)
        if ok then assert.equal(3, t:dim()) end
      end
    end)

    -- A PNG whose header claims w x h (its CRC right), with no image data.
    local function header_only(w, h, ctype)
      return forge.png { width = w, height = h, color_type = ctype, idat = forge.zlib("") }
    end

    it("load refuses hostile headers before allocating for them", function()
      local path = tmp()
      write_file(path, header_only(1 << 30, 1 << 30, 2))
      local err = err_of(image.load, path)
      assert.truthy(err:find("image.load: " .. path .. ": ", 1, true), err)
      assert.truthy(err:find("exceeds user limit", 1, true), err)
      write_file(path, header_only(1000000, 1000000, 6))
      assert.equal("image.load: " .. path .. ": 1000000 x 1000000 pixels with 4 channels is more than the "
        .. "1073741824 bytes an image may take", err_of(image.load, path))
      write_file(path, header_only(0, 5, 0))
      assert.truthy(err_of(image.load, path):find("image.load: " .. path .. ": ", 1, true))
      write_file(path, header_only(300, 200, 0)) -- a plausible header, no data
      assert.truthy(err_of(image.load, path):find("image.load: " .. path .. ": ", 1, true))
    end)
  end)

  describe("on OpenCL #opencl", function()
    local HAVE = #luann.opencl.devices() > 0
    if not HAVE then
      it("needs an OpenCL device (PoCL in CI)", function()
        assert.is_true(HAVE, "no OpenCL device: install pocl-opencl-icd, or set LUANN_NO_OPENCL=1")
      end)
      return
    end

    it("saves a device tensor as its CPU copy, and grids of one", function()
      luann.manual_seed(2)
      local t = luann.rand(4, 3, 5, 6)
      local a, b = tmp(), tmp()
      image.save(a, t)
      image.save(b, t:to("opencl"))
      assert.equal(read_file(a), read_file(b))
      image.save(a, t[1])
      image.save(b, t[1]:to("opencl"))
      assert.equal(read_file(a), read_file(b))
      assert.equal("cpu", image.make_grid(t:to("opencl")).device)
    end)
  end)
end)
