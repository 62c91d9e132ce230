-- plot_spec.lua: luann.plot.line: a PNG of the requested size, lines in
-- the plot area in the series' colours, a legend whose swatches hold each
-- series' exact colour, the forms a series may take (all drawing the same
-- picture), skipped NaN and infinite points, and the errors. Nothing here
-- depends on how the font renders text.
local luann = require "luann"
local helpers = require "helpers"

local plot = luann.plot

local tmp, remove_tmpfiles = helpers.temp_paths(".png")
local err_of = helpers.err_of

-- The picture as rows of {r, g, b}: pixels[y][x].
local function pixels(path)
  local t = luann.image.load(path, { dtype = "uint8" })
  assert.equal(3, t:size(1))
  local v = t:tolist()
  local out = {}
  for y = 1, t:size(2) do
    out[y] = {}
    for x = 1, t:size(3) do out[y][x] = { v[1][y][x], v[2][y][x], v[3][y][x] } end
  end
  return out, t:size(2), t:size(3)
end

-- Pixels within x0..x1 (fractions of the width) near colour c.
local function count_near(px, c, x0, x1, tol)
  local n, w = 0, #px[1]
  for y = 1, #px do
    for x = math.floor(x0 * w) + 1, math.floor(x1 * w) do
      local p = px[y][x]
      if math.abs(p[1] - c[1]) + math.abs(p[2] - c[2]) + math.abs(p[3] - c[3]) <= (tol or 40) then
        n = n + 1
      end
    end
  end
  return n
end

local function ramp(n, f)
  local v = {}
  for i = 1, n do v[i] = f(i) end
  return v
end

local DOWN = ramp(50, function(i) return 2 * math.exp(-i / 10) end)
local UP = ramp(50, function(i) return 1 - math.exp(-i / 10) end)

describe("luann.plot", function()
  teardown(function()
    remove_tmpfiles()
  end)

  describe("line", function()
    it("writes an RGB PNG of the requested size", function()
      for _, size in ipairs { { 640, 480 }, { 160, 160 }, { 333, 222 }, { 1000, 300 } } do
        local path = tmp()
        plot.line(path, { loss = DOWN }, { width = size[1], height = size[2], title = "t",
          xlabel = "x", ylabel = "y" })
        local t = luann.image.load(path)
        assert.same({ 3, size[2], size[1] }, t.shape)
      end
      local path = tmp()
      plot.line(path, { loss = DOWN })
      assert.same({ 3, 480, 640 }, luann.image.load(path).shape)
    end)

    it("draws each series in its colour inside the plot, white around it", function()
      local path = tmp()
      plot.line(path, { down = DOWN, up = UP }, { title = "two" })
      local px = pixels(path)
      local c1, c2 = plot.colors[1], plot.colors[2]
      assert.is_true(count_near(px, c1, 0.15, 0.75) > 200, "the first series' line")
      assert.is_true(count_near(px, c2, 0.15, 0.75) > 200, "the second series' line")
      assert.same({ 255, 255, 255 }, px[2][2])
      assert.same({ 255, 255, 255 }, px[479][639])
    end)

    it("gives series distinct colours, shown exactly in the legend", function()
      local colors = plot.colors
      assert.is_true(#colors >= 10)
      for i = 1, #colors do
        for j = i + 1, #colors do assert.are_not.same(colors[i], colors[j]) end
      end
      local series = {}
      for k = 1, 4 do series[k] = { name = "s" .. k, y = ramp(10, function(i) return i * k end) } end
      local path = tmp()
      plot.line(path, series)
      local px = pixels(path)
      for k = 1, 4 do -- the legend's swatches: right of the plot, exact colours
        assert.is_true(count_near(px, colors[k], 0.75, 1, 0) >= 20, "legend swatch " .. k)
      end
    end)

    it("draws the same picture from every form of a series", function()
      local y = { 3, 1, 4, 1, 5, 9, 2, 6 }
      local x = ramp(#y, function(i) return i end)
      local paths = { tmp(), tmp(), tmp(), tmp(), tmp() }
      plot.line(paths[1], { s = y })
      plot.line(paths[2], { s = luann.tensor(y, { dtype = "float32" }) })
      plot.line(paths[3], { s = { x = x, y = y } })
      plot.line(paths[4], { { name = "s", y = y } })
      plot.line(paths[5], { s = { x = luann.tensor(x), y = y } })
      local first = helpers.read_file(paths[1])
      for i = 2, 5 do assert.equal(first, helpers.read_file(paths[i]), "form " .. i) end
    end)

    it("orders a table of series by name, a list as given", function()
      local a, b = tmp(), tmp()
      plot.line(a, { zeta = DOWN, alpha = UP })
      plot.line(b, { { name = "alpha", y = UP }, { name = "zeta", y = DOWN } })
      assert.equal(helpers.read_file(a), helpers.read_file(b))
      plot.line(b, { { name = "zeta", y = DOWN }, { name = "alpha", y = UP } })
      assert.are_not.equal(helpers.read_file(a), helpers.read_file(b))
    end)

    it("skips NaN and infinite points, and non-positive ones on a log axis", function()
      local y = { 1, 0 / 0, 3, 1 / 0, 5, -1 / 0, 2, 8 }
      local a, b = tmp(), tmp()
      plot.line(a, { s = y })
      plot.line(b, { s = { x = { 1, 3, 5, 7, 8 }, y = { 1, 3, 5, 2, 8 } } })
      assert.same({ 3, 480, 640 }, luann.image.load(a).shape)
      plot.line(a, { s = { 0 / 0, 0 / 0 } }) -- nothing to draw: empty axes
      plot.line(a, { s = { 1, 0, -1, 10, 100 } }, { logy = true })
      plot.line(a, { s = { 0, -1 } }, { logy = true })
      plot.line(a, { s = { 1e300, -1e300, 1.7e308 }, t = { 1e-310, 2e-310 } })
      plot.line(a, { s = { 1e20, 1e20 + 16384 } })
      assert.same({ 3, 480, 640 }, luann.image.load(a).shape)
    end)

    it("shows names and titles of any bytes, any length", function()
      local long = string.rep("long name ", 30)
      local path = tmp()
      plot.line(path, { [long] = UP, ["bad\255\254utf8\n"] = DOWN },
        { title = "\255" .. long, xlabel = long, ylabel = long, width = 160, height = 160 })
      assert.same({ 3, 160, 160 }, luann.image.load(path).shape)
    end)

    it("replaces the file atomically", function()
      local path = tmp()
      helpers.write_file(path, "old")
      plot.line(path, { s = UP })
      assert.same({ 3, 480, 640 }, luann.image.load(path).shape)
      local dir, name = path:match("^(.*)/([^/]*)$")
      for f in io.popen("ls -a '" .. dir .. "'"):lines() do
        assert.is_nil(f:find(name .. ".tmp.", 1, true))
      end
    end)
  end)

  describe("errors", function()
    local p = "/tmp/never-written.png"

    it("names the series that is empty or not numbers", function()
      assert.equal("plot.line: series 'loss' is empty", err_of(plot.line, p, { loss = {} }))
      assert.equal("plot.line: series 'loss' is empty", err_of(plot.line, p, { loss = luann.zeros(0) }))
      assert.equal("plot.line: series 'loss' is empty", err_of(plot.line, p, { loss = { x = {}, y = {} } }))
      assert.equal("plot.line: no series to plot (the table is empty)", err_of(plot.line, p, {}))
      assert.equal("plot.line: series 'a'[3] is string, expected a number",
        err_of(plot.line, p, { a = { 1, 2, "3" } }))
      assert.equal("plot.line: series 'a' y[2] is boolean, expected a number",
        err_of(plot.line, p, { a = { y = { 1, true } } }))
      assert.equal("plot.line: series 'a' has 3 x values and 2 y values",
        err_of(plot.line, p, { a = { x = { 1, 2, 3 }, y = { 1, 2 } } }))
      assert.equal("plot.line: series 'a' must be 1-D, got shape (2,2)",
        err_of(plot.line, p, { a = luann.zeros(2, 2) }))
      assert.equal("plot.line: series 'a' must be a list of numbers or a 1-D tensor, got string",
        err_of(plot.line, p, { a = "1,2" }))
      assert.equal("plot.line: series names must be strings, got boolean true",
        err_of(plot.line, p, { [true] = { 1 } }))
      assert.equal("plot.line: series 2 must be a table {name =, y =, x =}, got number",
        err_of(plot.line, p, { { y = { 1 } }, 5 }))
      assert.equal("plot.line: series 1: name must be a string, got number",
        err_of(plot.line, p, { { name = 1, y = { 1 } } }))
      assert.equal("plot.line: bad argument #2 'series' (table of series expected, got tensor)",
        err_of(plot.line, p, luann.zeros(3)))
      local many = {}
      for k = 1, 65 do many[k] = { y = { k } } end
      assert.equal("plot.line: 1 to 64 series, got 65", err_of(plot.line, p, many))
    end)

    it("checks the options", function()
      assert.equal("plot.line: option 'width' must be an integer from 160 to 8192",
        err_of(plot.line, p, { a = { 1 } }, { width = 100 }))
      assert.equal("plot.line: option 'height' must be an integer from 160 to 8192",
        err_of(plot.line, p, { a = { 1 } }, { height = 10000 }))
      assert.equal("plot.line: bad argument #3 'width' (integer expected, got 200.5)",
        err_of(plot.line, p, { a = { 1 } }, { width = 200.5 }))
      assert.equal("plot.line: bad argument #3 'title' (string expected, got number)",
        err_of(plot.line, p, { a = { 1 } }, { title = 5 }))
      assert.equal("plot.line: bad argument #3 'logy' (boolean expected, got string)",
        err_of(plot.line, p, { a = { 1 } }, { logy = "yes" }))
      assert.equal("plot.line: unknown option 'color' (known: height, logy, title, width, xlabel, ylabel)",
        err_of(plot.line, p, { a = { 1 } }, { color = "red" }))
      assert.equal("plot.line: bad argument #1 'path' (string expected, got nil)",
        err_of(plot.line, nil, { a = { 1 } }))
    end)

    it("names the path and the OS's reason when it cannot write", function()
      assert.equal("plot.line: cannot write /nonexistent-dir/p.png: No such file or directory",
        err_of(plot.line, "/nonexistent-dir/p.png", { a = { 1, 2 } }))
    end)
  end)
end)
