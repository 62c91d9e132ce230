--- utils.progress: a progress bar around a loop (like tqdm).
--
--    local bar = utils.progress(loader, {desc = "Epoch 1"})
--    for images, labels in bar do
--      ...
--      bar:set_postfix({loss = loss})
--    end
--
-- On a terminal it redraws one line with \r, at most ten times a second:
--    Epoch 1:  45%|███████▎        | 423/938 [00:01<00:01, 412.31it/s, loss=0.5213]
-- Otherwise (output to a file or a pipe) it writes a plain line every
-- `interval` seconds (default 10) and one when the loop ends:
--    Epoch 1: 938/938 [00:02, 412.31it/s, loss=0.5213]
-- It wraps a DataLoader or anything with iter() and #, a list (yielding its
-- items), a count n (yielding 1..n) or an iterator function (give `total`).
-- Options: desc, total, file (io.stdout), tty (true/false: force the
-- style; default: LUANN_PROGRESS=tty|plain, else whether file is a
-- terminal), interval (seconds between plain lines), disable.
local luann = require "luann"
local class = require "luann.utils.class"
local check = require "luann.utils.check"
local timer = require "luann.utils.timer"

local Progress = class.new("Progress")
Progress.__self_name = "bar" -- for the hint of a '.' call: bar:method()

-- Whether f is a terminal: luann.isatty when the library has it, else the
-- term module when installed; unknown counts as not a terminal.
local function is_terminal(f)
  local env = os.getenv("LUANN_PROGRESS")
  if env == "tty" then return true elseif env == "plain" then return false end
  if os.getenv("TERM") == "dumb" then return false end
  local fd = (f == io.stdout and 1) or (f == io.stderr and 2) or nil
  if fd and type(luann.isatty) == "function" then return luann.isatty(fd) == true end
  local ok, term = pcall(require, "term")
  if ok and type(term) == "table" and type(term.isatty) == "function" then
    return term.isatty(f) == true
  end
  return false
end

-- An iterator and a length for what is wrapped.
local function source(it, total)
  if type(it) == "number" then
    local i = 0
    return function() i = i + 1 if i <= it then return i end end, total or it
  elseif type(it) == "function" then
    return it, total
  elseif type(it) == "table" and type(it.iter) == "function" then
    return it:iter(), total or #it
  elseif type(it) == "table" then
    local i = 0
    return function() i = i + 1 return it[i] end, total or #it
  end
  check.error("progress: cannot iterate a " .. class.typename(it), 2)
end

--- @param iterable what to loop over (see above)
-- @param opts {desc=, total=, file=, tty=, interval=, disable=}
function Progress:__init(iterable, opts)
  opts = check.options("progress", 2, opts, 3)
  check.known_options("progress", opts, { desc = true, total = true, file = true, tty = true,
    interval = true, disable = true }, 3)
  local kind = type(iterable)
  if kind ~= "number" and kind ~= "function" and kind ~= "table" then
    check.error("progress: bad argument #1 (loader, list, count or iterator expected, got "
      .. class.typename(iterable) .. ")", 2)
  end
  self.iterable = iterable
  self.desc = opts.desc
  self.total = opts.total ~= nil and check.integer("progress", 2, opts.total, "total", nil, 0, 3) or nil
  self.file = opts.file or io.stdout
  self.tty = opts.tty
  if self.tty == nil then self.tty = is_terminal(self.file) end
  self.interval = check.number("progress", 2, opts.interval, "interval", self.tty and 0.1 or 10, 0, nil, 3)
  self.disable = opts.disable == true
  self.n, self.postfix = 0, nil
  local lang = (os.getenv("LC_ALL") or "") .. (os.getenv("LANG") or "")
  self.unicode = lang:upper():find("UTF%-?8") ~= nil
end

--- Sets the key=value pairs shown after the rate (keys sorted; tensors
-- are read with item() only when a line is drawn).
-- @param values a table
function Progress:set_postfix(values)
  if type(values) ~= "table" then
    check.error("set_postfix: bad argument #1 (table expected, got " .. class.typename(values) .. ")", 2)
  end
  self.postfix = values
end

--- Changes the text before the bar.
function Progress:set_description(desc)
  self.desc = desc
end

local function clock_str(s)
  s = math.floor(s + 0.5)
  if s >= 3600 then return string.format("%d:%02d:%02d", s // 3600, s % 3600 // 60, s % 60) end
  return string.format("%02d:%02d", s // 60, s % 60)
end

local function value_str(v)
  if check.is_tensor(v) then v = v:item() end
  if math.type(v) == "float" then return string.format("%.4g", v) end
  return tostring(v)
end

-- The "[elapsed<remaining, rate, postfix]" part.
function Progress:stats(elapsed, final)
  local parts = { clock_str(elapsed) }
  if not final and self.total and self.n > 0 then
    parts[1] = parts[1] .. "<" .. clock_str(elapsed / self.n * (self.total - self.n))
  end
  local rate = elapsed > 0 and self.n / elapsed or 0
  parts[2] = (rate >= 1 or rate == 0) and string.format("%.2fit/s", rate) or string.format("%.2fs/it", 1 / rate)
  if self.postfix then
    local keys = {}
    for k in pairs(self.postfix) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. value_str(self.postfix[k]) end
  end
  return "[" .. table.concat(parts, ", ") .. "]"
end

-- "███████▎        ": the bar, 25 cells with eighths on a UTF-8 terminal.
function Progress:bar(frac)
  local width = 25
  if not self.unicode then
    local full = math.floor(frac * width)
    return string.rep("#", full) .. string.rep(" ", width - full)
  end
  local eighths = math.floor(frac * width * 8)
  local full, part = eighths // 8, eighths % 8
  local partial = { "▏", "▎", "▍", "▌", "▋", "▊", "▉" }
  local s = string.rep("█", full)
  if full < width then s = s .. (part > 0 and partial[part] or " ") .. string.rep(" ", width - full - 1) end
  return s
end

--- The current line (without \r or \n).
-- @param final whether the loop has ended
-- @return string
function Progress:line(final)
  local elapsed = timer.clock() - (self.start or timer.clock())
  local head = self.desc and (self.desc .. ": ") or ""
  local count = self.total and (self.n .. "/" .. self.total) or tostring(self.n)
  if self.tty and self.total and self.total > 0 then
    local frac = math.min(1, self.n / self.total)
    return string.format("%s%3d%%|%s| %s %s", head, math.floor(frac * 100), self:bar(frac), count,
      self:stats(elapsed, final))
  end
  return head .. count .. " " .. self:stats(elapsed, final)
end

function Progress:draw(final)
  if self.disable then return end
  self.last_draw = timer.clock()
  local text = self:line(final)
  if self.tty then
    local pad = math.max(0, (self.width or 0) - #text)
    self.width = #text
    self.file:write("\r", text, string.rep(" ", pad), final and "\n" or "")
  else
    self.file:write(text, "\n")
  end
  self.file:flush()
end

-- Counts the item the loop just finished and draws when it is time.
function Progress:tick(first, ...)
  if first == nil then
    self:close()
    return nil
  end
  local now = timer.clock()
  if now - self.last_draw >= self.interval then self:draw(false) end
  self.n = self.n + 1
  return first, ...
end

--- Starts a pass: an iterator that counts what it yields.
-- @return an iterator function
function Progress:iter()
  local nxt, total = source(self.iterable, self.total)
  self.total = total
  self.n, self.closed = 0, false
  self.start = timer.clock()
  self.last_draw = self.tty and self.start - self.interval or self.start
  return function() return self:tick(nxt()) end
end

--- Ends the pass: draws the final line (done automatically at loop end).
function Progress:close()
  if self.closed then return end
  self.closed = true
  self:draw(true)
end

local function advance(self, first, ...)
  if first == nil then self._pass = nil end
  return first, ...
end

-- `for ... in bar do`: a nil previous value starts a new pass.
function Progress.__call(self, _, previous)
  if previous == nil or self._pass == nil then self._pass = self:iter() end
  return advance(self, self._pass())
end

function Progress.__len(self)
  return self.total or 0
end

--- Wraps an iterable in a progress bar (see the module comment).
-- @param iterable a loader, list, count or iterator function
-- @param opts {desc=, total=, file=, tty=, interval=, disable=}
-- @return the bar; iterate it with `for ... in bar do`
return function(iterable, opts)
  return Progress(iterable, opts)
end
