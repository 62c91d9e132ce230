-- fuzz.lua: the Lua-level fuzzer. Each batch is a child process
-- (spec/robustness_child.lua fuzz) making random calls drawn from a seed
-- under a memory limit and a timeout; a crash, a hang or a blow-up is
-- shrunk to the smallest call sequence that still fails (by re-running
-- subsets of it in children) and printed as a Lua script, with the seed.
-- Scripts in the corpus (spec/fuzz_corpus/*.lua) each crashed luann once;
-- each runs in a child and must exit with status 0.
--
-- usage: luann spec/fuzz.lua ci             the corpus, then fixed seeds
--        luann spec/fuzz.lua explore SECONDS fresh seeds for SECONDS; each
--                                          new finding becomes a script in
--                                          the corpus folder
--        luann spec/fuzz.lua seed SEED       one seed, its failure shrunk
--        luann spec/fuzz.lua script FILE     one script, as the corpus runs it
--        luann spec/fuzz.lua log FILE        a child's log (robustness_child.lua
--                                          fuzz), shrunk
-- Settings (environment): FUZZ_SEEDS (ci's seeds, "1-24"), FUZZ_CALLS (calls
-- per child, 400), FUZZ_JOBS (children at a time, 2), FUZZ_TIMEOUT
-- (seconds per child, 60), FUZZ_SHRINK_SECONDS (per failure, 120),
-- FUZZ_MEMORY_KB (4 GiB; 0 lifts it, for sanitizer builds), FUZZ_CORPUS
-- (the corpus folder), LUANN_EXE (the luann under test; by default the one
-- running this script).
-- It prints the calls made and the files tried; it exits with status 1
-- when anything failed.
local here = (arg[0]:match("^(.*)/[^/]*$") or ".")

local START = os.time()
local function env(name, default) return os.getenv(name) or default end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  local h = assert(io.popen("pwd"))
  local cwd = h:read("l")
  h:close()
  return cwd .. "/" .. p
end

here = abspath(here)
local EXE = abspath(env("LUANN_EXE", arg[-1] or "build/luann"))
local CHILD = here .. "/robustness_child.lua"
local CORPUS = abspath(env("FUZZ_CORPUS", here .. "/fuzz_corpus"))
local CALLS = tonumber(env("FUZZ_CALLS", "400"))
local JOBS = tonumber(env("FUZZ_JOBS", "2"))
local TIMEOUT = tonumber(env("FUZZ_TIMEOUT", "60"))
local MEMORY_KB = tonumber(env("FUZZ_MEMORY_KB", tostring(4 * 1024 * 1024)))
local MAX_SHRINK = 60 -- children a shrink may run
local SHRINK_SECONDS = tonumber(env("FUZZ_SHRINK_SECONDS", "120")) -- and its time

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local function spit(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local PRELUDE = slurp(here .. "/robustness/prelude.lua")

local function scratch_dir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. quote(dir)))
  return dir
end
local DIR = scratch_dir()

-- ---- children -----------------------------------------------------------------

-- Starts `luann ARGS` in a folder of the scratch folder, under the limits.
local function start(args, sub)
  local dir = DIR .. "/" .. sub
  assert(os.execute("mkdir -p " .. quote(dir)))
  return assert(io.popen("cd " .. quote(dir) .. " && "
    .. (MEMORY_KB > 0 and ("ulimit -v " .. MEMORY_KB .. " && ") or "")
    .. "timeout -k 5 " .. TIMEOUT .. " env OMP_NUM_THREADS=1 " .. quote(EXE) .. " " .. args
    .. " 2>&1"))
end

-- How a child ended: nil when it exited with status 0, else the class of
-- failure ("crash", "hang", "exit N") and a description.
local function outcome(handle)
  local out = handle:read("a")
  local _, how, code = handle:close()
  if how == "signal" then return "crash", "killed by signal " .. code, out end
  if code == 0 then return nil, nil, out end
  if code == 124 or code == 137 then
    return "hang", "still running after " .. TIMEOUT .. " s (killed)", out
  end
  if code == 3 and out:find("HANG:") then return "hang", out:match("HANG: ([^\n]*)"), out end
  if code > 128 then return "crash", "killed by signal " .. (code - 128), out end
  return "exit " .. code, "exited with status " .. code, out
end

-- What a child printed that tells why it died: a sanitizer's first report
-- line and the first frame in luann's own code, else the last lines.
local function why(out)
  local first = out:match("[^\n]*runtime error[^\n]*") or out:match("[^\n]*ERROR: %a+Sanitizer[^\n]*")
  if first then
    for line in out:gmatch("[^\n]+") do
      if line:find("^%s*#%d+ .* in .*[ /]core/") or line:find("^%s*#%d+ .* in .*[ /]bindings/") then
        return first .. "\n  at " .. line:match(" in (.*)$"), line:match(" in (.*)$")
      end
    end
    return first, first:match("^(%S+:%d+):")
  end
  return out:sub(-400)
end

-- The steps of a fuzz log, the DONE line's counts (nil when it died), and
-- the parts of the last call ({name, function, arguments...}, the sources
-- its "--@" line gives), if it has them.
local function parse_log(log)
  local steps, calls, files, parts, last_parts = {}, nil, nil, nil, nil
  for line in log:gmatch("[^\n]+") do
    local c, f = line:match("^DONE (%d+) (%d+)")
    if c then
      calls, files = tonumber(c), tonumber(f)
    elseif line:find("^%-%-@ ") then
      parts = table.pack(load("return " .. line:sub(5), "=parts", "t", {})())
    else
      steps[#steps + 1] = line
      last_parts, parts = parts, nil
    end
  end
  return steps, calls, files, last_parts
end

-- The line of call i from its parts.
local function call_line(i, parts)
  return ("step(%d, function() return %s end) -- %s"):format(i,
    table.concat(parts, ", ", 2, parts.n), parts[1])
end

local function script(header, steps)
  return "-- " .. header:gsub("\n", "\n-- ") .. "\n" .. PRELUDE .. table.concat(steps, "\n") .. "\n"
end

-- Runs a script in a child: its failure class and description, or nil.
local function run_script(text)
  local path = DIR .. "/repro.lua"
  spit(path, text)
  return outcome(start(quote(path), "script"))
end

-- ---- shrinking ---------------------------------------------------------------

-- The steps whose results the last step uses, directly or through other
-- steps: most failures need only them.
local function results_used(steps)
  local at, need = {}, {}
  for i, line in ipairs(steps) do
    local n = line:match("^step%((%d+),")
    if n then at[tonumber(n)] = i end
  end
  local function visit(line)
    for j in line:gmatch("R%[(%d+)%]") do
      local i = at[tonumber(j)]
      if i and not need[i] then
        need[i] = true
        visit(steps[i])
      end
    end
  end
  visit(steps[#steps])
  local keep = {}
  for i = 1, #steps - 1 do
    if need[i] then keep[#keep + 1] = i end
  end
  return keep
end

-- The smallest subsequence of steps whose script still fails with
-- `class`: with `at_exit` (the failure came after the last call) any
-- steps, else the last one always kept. Tries the last step alone, then the
-- steps whose results it uses, then removes chunks of halving size (ddmin),
-- then drops the last call's arguments one by one or makes them nil, within
-- MAX_SHRINK children and SHRINK_SECONDS. A failure that comes and goes
-- (`tries` > 1) counts when any of `tries` runs fails.
local function shrink(steps, class, at_exit, parts)
  local fixed = at_exit and {} or { steps[#steps] }
  local runs, tries, started = 0, at_exit and 3 or 1, os.time()
  local function spent() return runs >= MAX_SHRINK or os.time() - started > SHRINK_SECONDS end
  local function pick(keep)
    local sel = {}
    for _, i in ipairs(keep) do sel[#sel + 1] = steps[i] end
    for _, s in ipairs(fixed) do sel[#sel + 1] = s end
    return sel
  end
  local function fails(keep)
    local text = script("shrinking", pick(keep))
    for _ = 1, tries do
      runs = runs + 1
      if run_script(text) == class then return true end
    end
    return false
  end
  local cur = {}
  for i = 1, #steps - #fixed do cur[i] = i end
  if not fails(cur) then return steps, false end -- not repeatable as a script
  if not at_exit then
    local slice = results_used(steps)
    if fails({}) then
      cur = {}
    elseif #slice < #cur and fails(slice) then
      cur = slice
    end
  end
  local n = 2
  while #cur > 1 and not spent() do
    local size, reduced = math.ceil(#cur / n), false
    for first = 1, #cur, size do
      local cand = {}
      for i, v in ipairs(cur) do
        if i < first or i >= first + size then cand[#cand + 1] = v end
      end
      if fails(cand) then
        cur, n, reduced = cand, math.max(n - 1, 2), true
        break
      end
      if spent() then break end
    end
    if not reduced then
      if size == 1 then break end
      n = math.min(n * 2, #cur)
    end
  end
  -- then the last call's arguments: each dropped, else made nil
  local last = tonumber(fixed[1] and fixed[1]:match("^step%((%d+),"))
  if not at_exit and parts and last then
    local function try(cand)
      cand.n = #cand
      fixed[1] = call_line(last, cand)
      if fails(cur) then return true end
      fixed[1] = call_line(last, parts)
      return false
    end
    for k = parts.n, 3, -1 do
      if spent() then break end
      local cand = table.move(parts, 1, parts.n, 1, {})
      table.remove(cand, k)
      if try(cand) then parts = table.move(cand, 1, #cand, 1, { n = #cand }) end
    end
    for k = 3, parts.n do
      if spent() then break end
      if parts[k] ~= "nil" then
        local cand = table.move(parts, 1, parts.n, 1, {})
        cand[k] = "nil"
        if try(cand) then parts = table.move(cand, 1, #cand, 1, { n = #cand }) end
      end
    end
  end
  return pick(cur), true
end

-- ---- batches -----------------------------------------------------------------

local totals = { calls = 0, files = 0, children = 0, failures = 0, scripts = 0 }
local seen = {} -- failure signatures met this run: class and target

local function start_seed(seed)
  local job = { seed = seed, log = DIR .. "/log." .. seed }
  job.handle = start(quote(CHILD) .. " fuzz " .. quote(job.log) .. " " .. seed .. " " .. CALLS,
    "seed" .. seed)
  return job
end

-- The file name of a finding: class and target, in plain characters.
local function slug(sig)
  return (sig:gsub("[^%w]+", "_"):gsub("^_+", ""):gsub("_+$", ""):sub(1, 60))
end

-- Waits for a seed's child; counts its calls; shrinks and prints a
-- failure. `save` writes a new finding into the corpus folder.
local function finish(job, save)
  local class, desc, out = outcome(job.handle)
  local steps, calls, files, parts = parse_log(slurp(job.log))
  os.remove(job.log)
  os.execute("rm -rf " .. quote(DIR .. "/seed" .. job.seed))
  totals.children = totals.children + 1
  if totals.children % 100 == 0 then
    print(("%d children, %d calls, %d files, %d failures, %d s"):format(totals.children,
      totals.calls, totals.files, totals.failures, os.time() - START))
  end
  if not class and calls then
    totals.calls, totals.files = totals.calls + calls, totals.files + files
    return
  end
  class = class or "exit 0"
  desc = desc or "exited before its last call"
  for _, s in ipairs(steps) do
    if s:find("^step%(") then totals.calls = totals.calls + 1 end
    if s:find('file("fuzz.', 1, true) then
      totals.files = totals.files + 1
    end
  end
  totals.failures = totals.failures + 1
  local at_exit = calls ~= nil
  local target = (steps[#steps] or ""):match("%-%- (.*)$") or "?"
  local _, frame = why(out) -- a sanitizer's place in our code names the bug best
  local sig = class .. (frame and " at " .. frame or at_exit and " at exit" or " in " .. target)
  if not seen[sig] and save and slurp(CORPUS .. "/" .. slug(sig) .. ".lua") ~= "" then
    seen[sig] = 0 -- found by an earlier run, its script not yet committed
  end
  if seen[sig] then
    seen[sig] = seen[sig] + 1
    print(("seed %d: %s again (%s)"):format(job.seed, sig, desc))
    return
  end
  seen[sig] = 1
  print(("\nseed %d: %s after %d calls: %s\n%s"):format(job.seed, sig, #steps, desc, why(out)))
  local minimal, repeatable = shrink(steps, class, at_exit, parts)
  local header = ("luann fuzz: seed %d, %s (%s), %d of %d calls kept%s\n"
    .. "run: build/luann THIS_FILE (status 0 once fixed)"):format(job.seed, sig, desc, #minimal,
    #steps, repeatable and "" or "; did NOT fail again as a script")
  local text = script(header, minimal)
  print(("---- minimal script (%d of %d calls)%s ----\n"):format(#minimal, #steps,
    repeatable and "" or ", did NOT fail again as a script")
    .. table.concat(minimal, "\n") .. "\n------------------------")
  if save then
    local path = CORPUS .. "/" .. slug(sig) .. ".lua"
    os.execute("mkdir -p " .. quote(CORPUS))
    spit(path, text)
    print("written to " .. path)
  end
end

-- Runs seeds from `next_seed()` until it returns nil, JOBS at a time.
local function run_seeds(next_seed, save)
  local running = {}
  while true do
    while #running < JOBS do
      local seed = next_seed()
      if not seed then break end
      running[#running + 1] = start_seed(seed)
    end
    if #running == 0 then break end
    finish(table.remove(running, 1), save)
  end
end

-- The corpus: each script in a child, exiting with status 0.
local function run_corpus()
  local h = io.popen("ls " .. quote(CORPUS) .. "/*.lua 2>/dev/null")
  local paths = {}
  for p in h:lines() do paths[#paths + 1] = p end
  h:close()
  for _, p in ipairs(paths) do
    local class, desc, out = run_script(slurp(p))
    totals.scripts = totals.scripts + 1
    if class then
      totals.failures = totals.failures + 1
      print(("corpus %s: %s\n%s"):format(p:match("[^/]*$"), desc, why(out)))
    end
  end
end

local function report(started)
  local sigs = {}
  for sig, n in pairs(seen) do sigs[#sigs + 1] = ("  %s (%d seed%s)"):format(sig, n, n > 1 and "s" or "") end
  table.sort(sigs)
  print(("\nluann fuzz: %d calls made, %d files tried, %d children, %d corpus scripts, "
    .. "%d failures, %d s"):format(totals.calls, totals.files, totals.children, totals.scripts,
    totals.failures, os.time() - started))
  if #sigs > 0 then print("distinct failures:\n" .. table.concat(sigs, "\n")) end
end

-- ---- main ----------------------------------------------------------------------

local mode = arg[1]
local started = os.time()
if mode == "ci" then
  run_corpus()
  local first, last = env("FUZZ_SEEDS", "1-24"):match("^(%d+)%-(%d+)$")
  local seed = tonumber(first) - 1
  run_seeds(function()
    seed = seed + 1
    if seed <= tonumber(last) then return seed end
  end, false)
elseif mode == "explore" then
  local seconds = assert(tonumber(arg[2]), "usage: fuzz.lua explore SECONDS")
  math.randomseed(os.time(), tonumber(tostring({}):match("0x(%x+)"), 16) or 0)
  run_seeds(function()
    if os.time() - started < seconds then return math.random(1 << 24, 1 << 31) end
  end, true)
elseif mode == "seed" then
  local seed = assert(math.tointeger(tonumber(arg[2])), "usage: fuzz.lua seed SEED")
  run_seeds(function() local s = seed; seed = nil; return s end, false)
elseif mode == "log" then
  local steps, _, _, parts = parse_log(slurp(assert(arg[2], "usage: fuzz.lua log FILE")))
  local class, desc, out = run_script(script("log", steps))
  totals.failures = class and 1 or 0
  print(class and desc .. "\n" .. why(out) or "OK: the log's calls do not fail as a script")
  if class then
    local minimal = shrink(steps, class, false, parts)
    print(("---- minimal script (%d of %d calls) ----\n"):format(#minimal, #steps)
      .. table.concat(minimal, "\n") .. "\n------------------------")
  end
elseif mode == "script" then
  CORPUS = nil
  local class, desc, out = run_script(slurp(assert(arg[2], "usage: fuzz.lua script FILE")))
  print(class and desc .. "\n" .. why(out) or "OK")
  totals.failures = class and 1 or 0
else
  error("usage: fuzz.lua ci | explore SECONDS | seed SEED | script FILE | log FILE")
end
report(started)
os.execute("rm -rf " .. quote(DIR))
os.exit(totals.failures == 0 and 0 or 1)
