-- examples_rl_spec.lua: examples/cartpole.lua against the cart-pole
-- equations worked here by hand (Barto, Sutton & Anderson 1983, Gym's
-- CartPole-v1 constants), its termination and truncation rules; and
-- examples/reinforce.lua run briefly (--quick) through the luann
-- executable, on the CPU and (#opencl) on an OpenCL device. Solving the
-- task takes a default run: examples/README.md reports those.
local luann = require "luann"
local cmp = require "opencl_compare"

local build = os.getenv("LUANN_BUILD") or "build"
local CartPole = dofile("examples/cartpole.lua")

local function assert_state(expected, got, tol)
  for i = 1, 4 do
    assert.near(expected[i], got[i], tol or 1e-12, "state[" .. i .. "]")
  end
end

-- One Euler step of the frictionless cart-pole, written as Florian (2007)
-- gives the equations, not as cartpole.lua computes them:
--   theta'' = (g sin th + cos th (-F - m l th'^2 sin th) / (mc + m)) / (l (4/3 - m cos^2 th / (mc + m)))
--   x''     = (F + m l (th'^2 sin th - theta'' cos th)) / (mc + m)
local function by_hand(s, force)
  local g, mc, m, l, tau = 9.8, 1.0, 0.1, 0.5, 0.02
  local x, xd, th, thd = s[1], s[2], s[3], s[4]
  local thdd = (g * math.sin(th) + math.cos(th) * (-force - m * l * thd * thd * math.sin(th)) / (mc + m))
    / (l * (4 / 3 - m * math.cos(th) ^ 2 / (mc + m)))
  local xdd = (force + m * l * (thd * thd * math.sin(th) - thdd * math.cos(th))) / (mc + m)
  return { x + tau * xd, xd + tau * xdd, th + tau * thd, thd + tau * thdd }
end

describe("examples/cartpole.lua", function()
  describe("step", function()
    it("pushes the resting cart right: x'' = 4400/451, theta'' = -600/41", function()
      -- At rest and upright with F = +10: (F/M) = 100/11, theta'' =
      -- -(100/11) / (0.5 (4/3 - 0.1/1.1)) = -600/41, x'' = 100/11 + (0.05/1.1)(600/41) = 4400/451.
      local env = CartPole()
      env:set_state({ 0, 0, 0, 0 })
      local s, reward, terminated, truncated = env:step(2)
      assert_state({ 0, 0.02 * 4400 / 451, 0, -0.02 * 600 / 41 }, s)
      assert.same({ 1.0, false, false }, { reward, terminated, truncated })
      env:set_state({ 0, 0, 0, 0 })
      assert_state({ 0, -0.02 * 4400 / 451, 0, 0.02 * 600 / 41 }, env:step(1))
    end)

    it("follows the equations from a tilted, moving state", function()
      local start = { 0.3, -0.7, 0.15, 1.2 }
      for action, force in ipairs({ -10, 10 }) do
        local env = CartPole()
        env:set_state(start)
        assert_state(by_hand(start, force), env:step(action))
      end
      -- and through a whole episode of a fixed pattern of pushes
      local env, s, t, terminated = CartPole(), { 0.01, 0.02, -0.03, 0.04 }, 0, false
      env:set_state(s)
      repeat
        t = t + 1
        local action = t % 3 == 0 and 1 or 2
        local got, reward
        s = by_hand(s, action == 2 and 10 or -10)
        got, reward, terminated = env:step(action)
        assert.equal(1.0, reward)
        assert_state(s, got, 1e-9)
      until terminated
      assert.is_true(t > 10 and math.abs(s[3]) > 0.2094, t .. " steps")
    end)

    it("terminates when |x| passes 2.4 and |theta| passes 12 degrees", function()
      local cases = { -- {state, terminated after one push right}
        { { 2.39, 0.4, 0, 0 }, false }, -- x becomes 2.398
        { { 2.39, 0.6, 0, 0 }, true }, -- x becomes 2.402
        { { -2.39, -0.6, 0, 0 }, true },
        { { 0, 0, 0.2, 0.4 }, false }, -- theta becomes 0.208 < 0.20944
        { { 0, 0, 0.2, 0.5 }, true }, -- theta becomes 0.210
        { { 0, 0, -0.2, -0.5 }, true },
      }
      for i, c in ipairs(cases) do
        local env = CartPole()
        env:set_state(c[1])
        local _, reward, terminated, truncated = env:step(2)
        assert.equal(c[2], terminated, "case " .. i)
        assert.equal(1.0, reward, "case " .. i)
        assert.is_false(truncated, "case " .. i)
      end
      assert.near(0.20944, CartPole.THETA_THRESHOLD, 1e-5)
    end)

    it("truncates at the 500th step", function()
      local env = CartPole({ seed = 4 })
      local s, n, terminated, truncated = env:reset(), 0, false, false
      repeat -- a hand-tuned controller that keeps the pole up
        local a = (10 * s[3] + 2 * s[4] + 0.1 * s[1] + 0.5 * s[2]) > 0 and 2 or 1
        local reward
        s, reward, terminated, truncated = env:step(a)
        assert.equal(1.0, reward)
        n = n + 1
      until terminated or truncated
      assert.same({ 500, false, true }, { n, terminated, truncated })
      env:set_state({ 0, 0, 0, 0 }, 498)
      assert.is_false(select(4, env:step(1)))
      assert.is_true(select(4, env:step(2)))
    end)

    it("refuses a bad action, and steps before reset or after the end", function()
      local env = CartPole()
      assert.has.error(function() env:step(1) end, "CartPole:step: call reset() first")
      env:reset()
      assert.has.error(function() env:step(0) end, "CartPole:step: action must be 1 (left) or 2 (right), got 0")
      env:set_state({ 3, 0, 0, 0 })
      env:step(1)
      assert.has.error(function() env:step(1) end, "CartPole:step: call reset() first (the episode is over)")
    end)
  end)

  describe("reset", function()
    it("draws each variable uniformly in [-0.05, 0.05] from the seed", function()
      local a, b, c = CartPole({ seed = 7 }), CartPole({ seed = 7 }), CartPole({ seed = 8 })
      local lo, hi = 0, 0
      for _ = 1, 200 do
        local s = a:reset()
        assert.same(s, b:reset())
        for i = 1, 4 do lo, hi = math.min(lo, s[i]), math.max(hi, s[i]) end
      end
      assert.is_true(lo >= -0.05 and lo < -0.045 and hi < 0.05 and hi > 0.045, lo .. " " .. hi)
      assert.are_not.same(a:reset(), c:reset())
      assert.equal(0, a.steps)
    end)
  end)
end)

-- Runs the example with arguments; returns its output and exit status.
local function run(args)
  local p = io.popen("OMP_WAIT_POLICY=passive " .. build .. "/luann examples/reinforce.lua " .. args .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function quick(device)
  local dir = os.tmpname()
  os.remove(dir)
  local out, code = run("--quick --no-progress --device " .. device .. " --out " .. dir)
  assert.equal(0, code, out)
  assert.matches("\nNot solved in 10 episodes: average return [%d.]+ over the last 10 %(%d+ steps, [%d.]+ s%)\n$",
    out)
  assert.is_not_nil(out:find("Wrote " .. dir .. "/returns.csv", 1, true), out)
  local f = assert(io.open(dir .. "/returns.csv"))
  local lines = {}
  for line in f:lines() do lines[#lines + 1] = line end
  f:close()
  assert.equal("episode,return,average100", lines[1])
  assert.equal(11, #lines)
  assert.matches("^1,%d+,%d+%.00$", lines[2])
  if luann.plot then
    assert.is_not_nil(io.open(dir .. "/returns.png"), out)
  else
    assert.is_not_nil(out:find("luann.plot is not available: no PNG written\n", 1, true), out)
  end
  os.execute("rm -rf '" .. dir .. "'")
end

describe("examples/reinforce.lua", function()
  it("plays 10 episodes with --quick and writes the returns", function()
    quick("cpu")
  end)

  it("rejects unknown options", function()
    local out, code = run("--episode 2")
    assert.are_not.equal(0, code)
    assert.matches("unknown option '%-%-episode'", out)
  end)

  describe("on OpenCL #opencl", function()
    it("plays 10 episodes with --quick --device opencl", function()
      if not cmp.HAVE then return pending("no OpenCL device") end
      quick("opencl")
    end)
  end)
end)
