-- examples_char_spec.lua: examples/char_transformer.lua and examples/char_lstm.lua
-- in their --quick modes (a tiny model, 30 steps, a slice of the corpus),
-- through the luann executable, on the CPU and (#opencl) on an OpenCL
-- device: the run succeeds, prints the baselines and a finite validation
-- figure, and the samples. The full runs' figures (<= 2.4 and 2.5 bits per
-- character in 10 minutes) are in examples/README.md; they take too long for
-- a test.
local build = os.getenv("LUANN_BUILD") or "build"
local CORPUS = "/usr/share/games/fortunes"

-- Runs an example with arguments; returns its output and exit status.
local function run(example, args)
  local p = io.popen(build .. "/luann examples/" .. example .. " " .. args .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function have_corpus()
  local f = io.open(CORPUS .. "/fortunes", "rb")
  if f then f:close() end
  return f ~= nil
end

local function finite(x)
  return x ~= nil and x == x and x > -math.huge and x < math.huge
end

-- The "Validation: x bits per character (unigram u, bigram b)" line, read.
local function figures(out)
  local v, u, b = out:match("\nValidation: (%S+) bits per character %(unigram (%S+), bigram ([^)]+)%)\n")
  return tonumber(v), tonumber(u), tonumber(b)
end

-- Checks a --quick run's output.
local function check_quick(out, code)
  assert.are.equal(0, code, out)
  assert.matches("^Corpus: %d+ fortunes %(%d+ characters%) to train, %d+ %(%d+%) to validate; %d+ symbols", out)
  assert.matches("\nTrained 30 steps in ", out)
  local bpc, unigram, bigram = figures(out)
  assert.is_true(finite(bpc), out)
  assert.is_true(bpc > 0, out)
  -- on the slice: a unigram of ~5 bits (log2 of 104 symbols is 6.7) and a bigram below it
  assert.is_true(finite(unigram) and unigram > 4 and unigram < 6, out)
  assert.is_true(finite(bigram) and bigram > 3 and bigram < unigram, out)
  local n = 0
  for _ in out:gmatch("\n%-%-%-%- sample at temperature [%d.]+ %-%-%-%-\n") do n = n + 1 end
  assert.are.equal(3, n, out)
end

for _, example in ipairs({ "char_transformer.lua", "char_lstm.lua" }) do
  describe("examples/" .. example, function()
    it("trains in --quick mode and prints a finite figure beside the baselines", function()
      if not have_corpus() then return pending("Debian's fortunes package is not installed") end
      check_quick(run(example, "--quick --no-progress --seed 2"))
    end)

    it("is reproducible with its --seed", function()
      if not have_corpus() then return pending("Debian's fortunes package is not installed") end
      local a = run(example, "--quick --no-progress --seed 3")
      local b = run(example, "--quick --no-progress --seed 3")
      assert.are.equal(figures(a), figures(b))
    end)

    it("rejects unknown options", function()
      local out, code = run(example, "--epochs 2")
      assert.are_not.equal(0, code)
      assert.matches("unknown option '%-%-epochs'", out)
    end)
  end)

  describe("examples/" .. example .. " on OpenCL #opencl", function()
    local HAVE = require("opencl_compare").HAVE
    it("trains in --quick mode with --device opencl", function()
      if not HAVE then return pending("no OpenCL device") end
      if not have_corpus() then return pending("Debian's fortunes package is not installed") end
      local out, code = run(example, "--quick --no-progress --device opencl")
      check_quick(out, code)
      local cpu = figures(run(example, "--quick --no-progress"))
      assert.is_true(math.abs(figures(out) - cpu) < 0.05, out) -- the same run, up to rounding
    end)
  end)
end
