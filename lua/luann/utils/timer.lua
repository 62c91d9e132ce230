--- utils.clock, utils.Timer, utils.time: wall-clock timing.
-- The clock is luann.clock() when the library has one, else luasystem's
-- monotonic clock when installed, else os.clock() (process CPU time, which
-- runs faster than the wall clock while several threads work).
-- @usage local t = utils.Timer(); train(); print(t:elapsed())
-- local seconds, result = utils.time(train, model)
local luann = require "luann"
local class = require "luann.utils.class"
local check = require "luann.utils.check"

local timer = {}

local function pick_clock()
  if type(luann.clock) == "function" then return luann.clock end
  local ok, system = pcall(require, "system")
  if ok and type(system) == "table" and type(system.monotime) == "function" then
    return system.monotime
  end
  return os.clock
end

--- Seconds from an arbitrary origin (differences are what count).
-- @return number
timer.clock = pick_clock()

local Timer = class.new("Timer")
Timer.__self_name = "timer" -- for the hint of a '.' call: timer:method()
timer.Timer = Timer

--- Starts timing now.
function Timer:__init()
  self.start = timer.clock()
end

--- Seconds since the start (or the last reset).
-- @return number
function Timer:elapsed()
  return timer.clock() - self.start
end

--- Restarts the timer; returns the seconds elapsed before.
-- @return number
function Timer:reset()
  local now = timer.clock()
  local e = now - self.start
  self.start = now
  return e
end

function Timer:__tostring()
  return string.format("Timer(%.3f s)", self:elapsed())
end

--- Runs fn(...) and measures it.
-- @param fn a function
-- @param ... its arguments
-- @return seconds taken, then fn's results
function timer.time(fn, ...)
  if type(fn) ~= "function" then
    check.error("time: bad argument #1 (function expected, got " .. class.typename(fn) .. ")", 2)
  end
  local t0 = timer.clock()
  local r = table.pack(fn(...))
  return timer.clock() - t0, table.unpack(r, 1, r.n)
end

return timer
