--- luann.utils: progress bars, timing, training logs (CSV, plotted), and
-- the class, argument-check and warning helpers the library is built from.
--
--    local utils = require "luann.utils"   -- or luann.utils
--    for x, y in utils.progress(loader, {desc = "train"}) do ... end
--    local t = utils.Timer(); ...; print(t:elapsed())
--    local log = utils.Logger("train.csv", {"loss"}); log:add{loss = l}
local timer = require "luann.utils.timer"

return {
  progress = require "luann.utils.progress",
  Timer = timer.Timer,
  time = timer.time,
  Logger = require "luann.utils.logger",
  clock = timer.clock,
  class = require "luann.utils.class",
  check = require "luann.utils.check",
  warn_once = require "luann.utils.warn_once",
}
