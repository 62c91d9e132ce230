--- luann.utils: progress bars, timing, and the class and argument-check
-- helpers the library is built from.
--
--    local utils = require "luann.utils"   -- or luann.utils
--    for x, y in utils.progress(loader, {desc = "train"}) do ... end
--    local t = utils.Timer(); ...; print(t:elapsed())
local timer = require "luann.utils.timer"

return {
  progress = require "luann.utils.progress",
  Timer = timer.Timer,
  time = timer.time,
  clock = timer.clock,
  class = require "luann.utils.class",
  check = require "luann.utils.check",
}
