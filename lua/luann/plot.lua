--- luann.plot: line plots written as PNG files (drawn with cairo).
--
--    luann.plot.line("loss.png", {train = train_losses, valid = {x = epochs, y = valid_losses}},
--                    {title = "loss", xlabel = "epoch", logy = true})
--
-- Axes with 1-2-5 ticks and a grid, a title, axis labels, and a legend
-- right of the plot with one colour per series (plot.colors, in order;
-- after ten series the colours repeat dashed). NaN and infinite points
-- (and points <= 0 with logy) are skipped: the line breaks there.
-- @module luann.plot
local luann = require "luann"
local check = require "luann.utils.check"
local class = require "luann.utils.class"

local C = luann._plot_module()
local plot = {}

--- The series colours, in order: {{r, g, b}, ...} with bytes 0 to 255.
plot.colors = C.colors

local OPTIONS = { title = true, xlabel = true, ylabel = true, width = true,
  height = true, logy = true }

local call = require("luann.utils.check").call

local function fail(fmt, ...)
  check.error("plot.line: " .. fmt:format(...), 2)
end

-- A plain list of numbers from a list or a 1-D tensor; `what` names it.
local function numbers(v, what)
  if check.is_tensor(v) then
    if v:dim() ~= 1 then fail("%s must be 1-D, got shape %s", what, check.shape_str(v)) end
    return v:detach():to("float64"):tolist()
  end
  if type(v) ~= "table" then
    fail("%s must be a list of numbers or a 1-D tensor, got %s", what, class.typename(v))
  end
  local out = {}
  for i = 1, rawlen(v) do
    local x = rawget(v, i)
    if type(x) ~= "number" then
      fail("%s[%d] is %s, expected a number", what, i, class.typename(x))
    end
    out[i] = x
  end
  return out
end

-- One series as {name, y, x}: a list or tensor of y values, or {x =, y =}.
local function series_entry(name, v)
  local label = ("series '%s'"):format(name)
  local entry = { name = name }
  if type(v) == "table" and not check.is_tensor(v) and rawget(v, "y") ~= nil then
    entry.y = numbers(rawget(v, "y"), label .. " y")
    if rawget(v, "x") ~= nil then
      entry.x = numbers(rawget(v, "x"), label .. " x")
      if #entry.x ~= #entry.y then
        fail("%s has %d x values and %d y values", label, #entry.x, #entry.y)
      end
    end
  else
    entry.y = numbers(v, label)
  end
  if #entry.y == 0 then fail("%s is empty", label) end
  return entry
end

-- The series in drawing order: a list of {name =, y =, x =} keeps its
-- order; a table name -> values goes by name.
local function series_list(series)
  if type(series) ~= "table" or check.is_tensor(series) then
    fail("bad argument #2 'series' (table of series expected, got %s)", class.typename(series))
  end
  local list = {}
  if rawlen(series) > 0 then
    for i = 1, rawlen(series) do
      local s = rawget(series, i)
      if type(s) ~= "table" or check.is_tensor(s) then
        fail("series %d must be a table {name =, y =, x =}, got %s", i, class.typename(s))
      end
      local name = rawget(s, "name")
      if name == nil then name = "series " .. i end
      if type(name) ~= "string" then
        fail("series %d: name must be a string, got %s", i, class.typename(name))
      end
      list[i] = series_entry(name, s)
    end
    return list
  end
  local names = {}
  for k in next, series do
    if type(k) ~= "string" then
      fail("series names must be strings, got %s %s", class.typename(k), tostring(k))
    end
    names[#names + 1] = k
  end
  if #names == 0 then fail("no series to plot (the table is empty)") end
  table.sort(names)
  for i, name in ipairs(names) do list[i] = series_entry(name, rawget(series, name)) end
  return list
end

--- Draws line plots into a PNG file.
-- @param path where to write (replaced atomically)
-- @param series name -> y values (a list or 1-D tensor; x = 1..n) or
--   name -> {x = ..., y = ...}; or a list of {name =, y =, x =} to keep
--   that order (a table by name is drawn in name order)
-- @param opts {title, xlabel, ylabel (strings), width = 640, height = 480
--   (160 to 8192 pixels), logy = false}
-- @usage luann.plot.line("loss.png", {loss = losses}, {title = "training"})
function plot.line(path, series, opts)
  if type(path) ~= "string" then
    check.error("plot.line: bad argument #1 'path' (string expected, got " .. class.typename(path) .. ")", 2)
  end
  local list = series_list(series)
  opts = check.options("plot.line", 3, opts)
  check.known_options("plot.line", opts, OPTIONS)
  local o = {
    width = check.integer("plot.line", 3, opts.width, "width", 640, 1),
    height = check.integer("plot.line", 3, opts.height, "height", 480, 1),
    logy = check.boolean("plot.line", 3, opts.logy, "logy", false),
  }
  for _, key in ipairs { "title", "xlabel", "ylabel" } do
    local v = opts[key]
    if v ~= nil and type(v) ~= "string" then
      check.error(("plot.line: bad argument #3 '%s' (string expected, got %s)"):format(key,
        class.typename(v)), 2)
    end
    o[key] = v
  end
  call(C.line, path, list, o)
end

return plot
