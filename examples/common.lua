-- examples/common.lua: what the examples share: their command-line options,
-- the MNIST-format data, evaluation, and where pictures go. Each example
-- loads it with dofile, next to itself:
--   local common = dofile((arg[0]:match("^(.*[/\\])") or "") .. "common.lua")
local luann = require "luann"
local data = luann.data

local common = {}

--- The examples' directory (with a trailing /), for dofile of their parts.
common.dir = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "examples/"

--- Reads `--name value` options and `--flag` switches into a copy of
-- defaults: a number default takes a number, a string one text, a boolean
-- one is a switch (`--no-name` turns a true default off). `--help` prints
-- usage and exits.
-- @param argv the script's arguments ({...})
-- @param defaults option name (with _ for -) -> default value
-- @param usage the usage line
function common.parse_args(argv, defaults, usage)
  local o = {}
  for k, v in pairs(defaults) do o[k] = v end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--help" or a == "-h" then
      print(usage)
      os.exit(0)
    end
    local name = a:match("^%-%-(.+)$")
    local key = name and name:gsub("-", "_")
    local off = key and key:match("^no_(.+)$")
    if off and type(defaults[off]) == "boolean" then
      o[off] = false
    elseif key and type(defaults[key]) == "boolean" then
      o[key] = true
    elseif key and defaults[key] ~= nil then
      local v = argv[i + 1]
      if v == nil then error(a .. " needs a value\n" .. usage, 0) end
      if type(defaults[key]) == "number" then
        o[key] = tonumber(v) or error(a .. " needs a number, got '" .. v .. "'", 0)
      else
        o[key] = v
      end
      i = i + 1
    else
      error("unknown option '" .. a .. "'\n" .. usage, 0)
    end
    i = i + 1
  end
  return o
end

--- MNIST-format IDX files from dir (--data), else Fashion-MNIST from
-- Debian's dataset-fashion-mnist.
function common.mnist(dir, train)
  if dir ~= "" then return data.datasets.MNIST(dir, { train = train }) end
  return data.datasets.FashionMNIST(nil, { train = train })
end

--- The fraction of samples whose argmax of model(x) is the label.
function common.accuracy(model, loader, device)
  model:eval()
  local correct, total = 0, 0
  local guard <close> = luann.no_grad()
  for images, labels in loader do
    images, labels = images:to(device), labels:to(device)
    correct = correct + model(images):argmax(2):eq(labels):sum():item()
    total = total + labels:numel()
  end
  model:train()
  return correct / total
end

--- Makes dir (and its parents) if missing; returns it with a trailing /.
function common.output_dir(dir)
  if dir == "" then dir = "." end
  local ok = os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
  if not ok then error("cannot create the output directory " .. dir, 0) end
  return dir:sub(-1) == "/" and dir or dir .. "/"
end

--- A progress bar around a loader, or the loader itself with --no-progress.
function common.progress(loader, desc, on)
  if not on then return loader end
  return luann.utils.progress(loader, { desc = desc })
end

--- A training budget: minutes of wall-clock time, or max_steps steps when
-- given (a --quick run). The clock starts at the first step.
--   local budget = common.budget(10)
--   for step in budget:steps() do ... lr = f(budget:fraction()) ... end
--   local v = budget:aside(evaluate, model)   -- off the clock
-- @param minutes the time to train
-- @param max_steps nil, or a step count that replaces the time
-- @return the budget: steps(), fraction(), elapsed(), aside(fn, ...), step
function common.budget(minutes, max_steps)
  local b = { step = 0, seconds = minutes * 60, max_steps = max_steps, paused = 0 }

  --- Seconds spent training so far (what aside ran not counted).
  function b:elapsed()
    return self.timer and self.timer:elapsed() - self.paused or 0
  end

  --- How much of the budget is spent, from 0 to 1.
  function b:fraction()
    if self.max_steps then return math.min(1, self.step / self.max_steps) end
    return math.min(1, self:elapsed() / self.seconds)
  end

  --- Runs fn(...) off the clock; returns what it returns.
  function b:aside(fn, ...)
    local t = luann.utils.Timer()
    local r = table.pack(fn(...))
    self.paused = self.paused + t:elapsed()
    return table.unpack(r, 1, r.n)
  end

  --- An iterator over step numbers 1, 2, ... until the budget is spent.
  function b:steps()
    self.timer, self.step, self.paused = luann.utils.Timer(), 0, 0
    return function()
      if self.max_steps and self.step >= self.max_steps then return nil end
      if not self.max_steps and self:elapsed() >= self.seconds then return nil end
      self.step = self.step + 1
      return self.step
    end
  end

  return b
end

return common
