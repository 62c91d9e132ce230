--- utils.Logger: a training log as a CSV file, and plots of it, in the
-- manner of Torch7's optim.Logger.
--
-- Each row is written and flushed at once, so a crash keeps every row
-- logged before it. Opening a log that exists appends to it (its header
-- must name the same columns); `{append = false}` starts it over. Numbers
-- are written with the fewest digits that read back as the same double
-- (integers as integers; nan, inf and -inf by name); strings are quoted
-- when they hold a comma, a quote or a line break; a missing value is an
-- empty cell.
-- @usage
-- local log = luann.utils.Logger("train.csv", {"epoch", "loss", "acc"})
-- log:add{epoch = 1, loss = 0.31, acc = 0.9}   -- or log:add{1, 0.31, 0.9}
-- log:plot("loss.png", {"loss"}, {x = "epoch", logy = true})
local class = require "luann.utils.class"
local check = require "luann.utils.check"

local Logger = class.new("Logger")
Logger.__self_name = "log" -- for the hint of a '.' call: log:method()

-- ---- CSV -------------------------------------------------------------------

local function format_number(v)
  if math.type(v) == "integer" then return ("%d"):format(v) end
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  for _, digits in ipairs { 15, 16, 17 } do
    local s = ("%." .. digits .. "g"):format(v)
    if tonumber(s) == v then return s end
  end
end

local function quote(s)
  if s:find('[,"\r\n]') or s ~= s:match("^%s*(.-)%s*$") then
    return '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

-- One cell's text; fname and name for messages.
local function format_cell(fname, name, v)
  if v == nil then return "" end
  if check.is_tensor(v) then
    if v:numel() ~= 1 then
      check.error(("%s: column '%s' got a tensor of shape %s (one value expected)"):format(
        fname, name, check.shape_str(v)), 2)
    end
    v = v:item()
  end
  if type(v) == "number" then return format_number(v) end
  if type(v) == "boolean" then return tostring(v) end
  if type(v) == "string" then return quote(v) end
  check.error(("%s: column '%s' got %s (a number, string or boolean expected)"):format(
    fname, name, class.typename(v)), 2)
end

-- The rows of a CSV text: a list of lists of strings (RFC 4180 quoting).
local function parse_csv(text)
  local rows, row, i, n = {}, {}, 1, #text
  while i <= n do
    local cell
    if text:sub(i, i) == '"' then
      local parts, j = {}, i + 1
      while true do
        local q = text:find('"', j, true)
        if not q then parts[#parts + 1] = text:sub(j) i = n + 1 break end
        parts[#parts + 1] = text:sub(j, q - 1)
        if text:sub(q + 1, q + 1) == '"' then
          parts[#parts + 1] = '"'
          j = q + 2
        else
          i = q + 1
          break
        end
      end
      cell = table.concat(parts)
      local stop = text:find("[,\n]", i) or n + 1
      i = stop
    else
      local stop = text:find("[,\n]", i) or n + 1
      cell = text:sub(i, stop - 1):gsub("\r$", "")
      i = stop
    end
    row[#row + 1] = cell
    local sep = text:sub(i, i)
    i = i + 1
    if sep ~= "," then
      rows[#rows + 1] = row
      row = {}
    end
  end
  return rows
end

local SPECIAL = { nan = 0 / 0, inf = math.huge, ["-inf"] = -math.huge }

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

-- ---- the logger ------------------------------------------------------------

local function check_names(fname, names)
  if type(names) ~= "table" or check.is_tensor(names) or rawlen(names) == 0 then
    check.error(("%s: column names must be a non-empty list of strings, got %s"):format(
      fname, class.typename(names)), 2)
  end
  local list, seen = {}, {}
  for i = 1, rawlen(names) do
    local name = rawget(names, i)
    if type(name) ~= "string" or name == "" then
      check.error(("%s: column name %d must be a non-empty string, got %s"):format(
        fname, i, class.typename(name)), 2)
    end
    if seen[name] then check.error(("%s: column '%s' named twice"):format(fname, name), 2) end
    seen[name] = true
    list[i] = name
  end
  return list
end

local function same_list(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end

--- Opens (or creates) a CSV log.
-- @param path the CSV file
-- @param names the column names (or set them later with setNames)
-- @param opts {append = true}: false empties the file first
function Logger:__init(path, names, opts)
  if type(path) ~= "string" then
    check.error("Logger: bad argument #1 'path' (string expected, got " .. class.typename(path) .. ")", 2)
  end
  if type(names) == "table" and not check.is_tensor(names) and opts == nil
    and rawlen(names) == 0 and next(names) ~= nil then
    names, opts = nil, names -- Logger(path, {append = false})
  end
  opts = check.options("Logger", 3, opts, 3)
  check.known_options("Logger", opts, { append = true }, 3)
  local append = check.boolean("Logger", 3, opts.append, "append", true, 3)
  self.path = path
  local text = append and read_file(path) or ""
  if text ~= "" then
    local header = parse_csv(text:match("^[^\n]*"))[1] or {}
    for _, name in ipairs(header) do
      if name == "" then
        check.error("Logger: " .. path .. " does not start with a header of column names; "
          .. "give {append = false} to start it over", 2)
      end
    end
    self.names = header
  end
  local f, err = io.open(path, text ~= "" and "ab" or "wb")
  if not f then -- io.open's message starts with the path
    local reason = err:sub(1, #path + 2) == path .. ": " and err:sub(#path + 3) or err
    check.error("Logger: cannot open " .. path .. ": " .. reason, 2)
  end
  self.file = f
  -- a row cut short (a crash mid-write) ends where it was cut
  if text ~= "" and text:sub(-1) ~= "\n" then self:_write("\n") end
  if names ~= nil then self:_set_names("Logger", names) end
end

function Logger:_write(s)
  if not self.file then check.error("Logger: " .. self.path .. " is closed", 2) end
  local ok, err = self.file:write(s)
  if ok then ok, err = self.file:flush() end
  if not ok then check.error("Logger: cannot write " .. self.path .. ": " .. tostring(err), 2) end
end

function Logger:_set_names(fname, names)
  names = check_names(fname, names)
  if self.names then
    if same_list(self.names, names) then return end
    check.error(("%s: %s has the columns (%s), not (%s); give {append = false} to start it over"):format(
      fname, self.path, table.concat(self.names, ", "), table.concat(names, ", ")), 2)
  end
  local header = {}
  for i, name in ipairs(names) do header[i] = quote(name) end
  self:_write(table.concat(header, ",") .. "\n")
  self.names = names
end

--- Sets the column names and writes the header (once; a reopened log
-- accepts the names it already has).
-- @param names a list of strings
function Logger:setNames(names)
  self:_set_names("Logger:setNames", names)
end

--- Appends a row and flushes it to the file.
-- @param values by name {loss = 0.3} (missing columns stay empty) or by
--   position {0.3, 0.9}; numbers, strings, booleans, one-element tensors
function Logger:add(values)
  if not self.names then
    check.error("Logger:add: no columns yet (give names to Logger(path, names) or setNames)", 2)
  end
  if type(values) ~= "table" or check.is_tensor(values) then
    check.error("Logger:add: bad argument #1 'values' (table expected, got " .. class.typename(values) .. ")", 2)
  end
  local by_name, index = {}, {}
  for i, name in ipairs(self.names) do index[name] = i end
  for k, v in next, values do
    local i = math.type(k) == "integer" and k or index[k]
    if not i or i < 1 or i > #self.names then
      check.error(("Logger:add: no column %s (columns: %s)"):format(type(k) == "string" and
        "'" .. k .. "'" or tostring(k), table.concat(self.names, ", ")), 2)
    end
    if by_name[i] ~= nil then
      check.error(("Logger:add: column '%s' given twice"):format(self.names[i]), 2)
    end
    by_name[i] = v
  end
  local cells = {}
  for i, name in ipairs(self.names) do cells[i] = format_cell("Logger:add", name, by_name[i]) end
  self:_write(table.concat(cells, ",") .. "\n")
end

--- The logged values by column, read back from the file: {name = {...}},
-- numbers where the cell holds one, NaN elsewhere.
-- @return table of lists, and the row count
function Logger:columns()
  local rows = parse_csv(read_file(self.path) or "")
  local cols = {}
  for _, name in ipairs(self.names or {}) do cols[name] = {} end
  for r = 2, #rows do
    for i, name in ipairs(self.names or {}) do
      local cell = rows[r][i] or ""
      local v = tonumber(cell) or SPECIAL[cell]
      cols[name][r - 1] = v or 0 / 0
    end
  end
  return cols, math.max(#rows - 1, 0)
end

--- Draws columns as lines with luann.plot.line.
-- @param path the PNG file
-- @param names the columns to draw (default: all but opts.x)
-- @param opts plot.line's options, and x: a column to use as x (default:
--   the row number)
function Logger:plot(path, names, opts)
  if type(names) == "table" and rawlen(names) == 0 and next(names) ~= nil and opts == nil then
    names, opts = nil, names -- log:plot(path, {logy = true})
  end
  opts = check.options("Logger:plot", 3, opts)
  local cols, count = self:columns()
  if count == 0 then check.error("Logger:plot: nothing logged yet in " .. self.path, 2) end
  local x = opts.x
  if x ~= nil and cols[x] == nil then
    check.error(("Logger:plot: no column '%s' for x"):format(tostring(x)), 2)
  end
  if names == nil then
    names = {}
    for _, name in ipairs(self.names) do
      if name ~= x then names[#names + 1] = name end
    end
  end
  names = check_names("Logger:plot", names)
  local series = {}
  for i, name in ipairs(names) do
    if cols[name] == nil then
      check.error(("Logger:plot: no column '%s' (columns: %s)"):format(name,
        table.concat(self.names, ", ")), 2)
    end
    series[i] = { name = name, y = cols[name], x = x and cols[x] }
  end
  local plot_opts = {}
  for k, v in pairs(opts) do
    if k ~= "x" then plot_opts[k] = v end
  end
  if plot_opts.xlabel == nil then plot_opts.xlabel = x end
  require("luann.plot").line(path, series, plot_opts)
end

--- Closes the file (later adds raise); also on garbage collection and
-- at the end of a `local log <close>` scope.
function Logger:close()
  if self.file then
    self.file:close()
    self.file = nil
  end
end

Logger.__gc = Logger.close
Logger.__close = Logger.close

return Logger
