-- examples/cartpole.lua: the cart-pole balancing task as Gym's CartPole-v1
-- has it, in Lua, for examples/reinforce.lua.
--
--   local CartPole = dofile("examples/cartpole.lua")
--   local env = CartPole({ seed = 1 })
--   local state = env:reset()                  -- {x, x_dot, theta, theta_dot}
--   local state, reward, terminated, truncated = env:step(2)   -- 1 left, 2 right
--
-- The dynamics are the cart-pole equations of Barto, Sutton & Anderson,
-- "Neuronlike adaptive elements that can solve difficult learning control
-- problems", IEEE Trans. SMC-13(5):834-846, 1983, without friction (R. V.
-- Florian, "Correct equations for the dynamics of the cart-pole system",
-- 2007, derives them and fixes the sign of a friction term not used here),
-- integrated with explicit Euler steps. The constants, the termination and
-- truncation rules and the reward are those of Gym's CartPole-v1
-- (gym/envs/classic_control/cartpole.py, kinematics_integrator "euler",
-- TimeLimit 500). The state stays in Lua doubles where Gym hands out float32.
local luann = require "luann"

local CartPole = {}
CartPole.__index = CartPole
setmetatable(CartPole, { __call = function(cls, ...) return cls.new(...) end })

CartPole.GRAVITY = 9.8
CartPole.MASSCART = 1.0
CartPole.MASSPOLE = 0.1
CartPole.LENGTH = 0.5 -- half the pole's length
CartPole.FORCE_MAG = 10.0
CartPole.TAU = 0.02 -- seconds between updates
CartPole.X_THRESHOLD = 2.4
CartPole.THETA_THRESHOLD = 12 * 2 * math.pi / 360 -- 12 degrees, 0.2094 rad
CartPole.MAX_STEPS = 500 -- CartPole-v1's time limit

--- A new environment; call reset() before the first step.
-- @param opts {seed = 0} seeds the generator of the initial states
function CartPole.new(opts)
  opts = opts or {}
  local self = setmetatable({}, CartPole)
  self.generator = luann.Generator(opts.seed or 0)
  self.steps = 0
  return self
end

--- Starts an episode: each state variable uniform in [-0.05, 0.05].
-- @return the state {x, x_dot, theta, theta_dot} (a fresh list)
function CartPole:reset()
  local g = self.generator
  self.x, self.x_dot = g:random() * 0.1 - 0.05, g:random() * 0.1 - 0.05
  self.theta, self.theta_dot = g:random() * 0.1 - 0.05, g:random() * 0.1 - 0.05
  self.steps, self.done = 0, false
  return self:state()
end

--- The current state as a fresh list {x, x_dot, theta, theta_dot}.
function CartPole:state()
  return { self.x, self.x_dot, self.theta, self.theta_dot }
end

--- Places the system in a given state (for tests), counting no steps.
function CartPole:set_state(s, steps)
  self.x, self.x_dot, self.theta, self.theta_dot = s[1], s[2], s[3], s[4]
  self.steps, self.done = steps or 0, false
end

--- Pushes the cart for one time step.
-- @param action 1 pushes left, 2 pushes right (1-based, as Categorical's samples)
-- @return state, reward (1 for every step taken, the last one too),
--   terminated (the pole fell or the cart left the track), truncated (the
--   500th step was reached)
function CartPole:step(action)
  if action ~= 1 and action ~= 2 then
    error("CartPole:step: action must be 1 (left) or 2 (right), got " .. tostring(action), 2)
  end
  if self.x == nil or self.done then
    error("CartPole:step: call reset() first" .. (self.done and " (the episode is over)" or ""), 2)
  end
  local total_mass = self.MASSCART + self.MASSPOLE
  local polemass_length = self.MASSPOLE * self.LENGTH
  local force = action == 2 and self.FORCE_MAG or -self.FORCE_MAG
  local cos, sin = math.cos(self.theta), math.sin(self.theta)
  -- theta'' = (g sin - cos (F + m l theta'^2 sin) / M) / (l (4/3 - m cos^2 / M)),
  -- x'' = (F + m l theta'^2 sin) / M - m l theta'' cos / M  (M = m_cart + m_pole)
  local temp = (force + polemass_length * self.theta_dot ^ 2 * sin) / total_mass
  local theta_acc = (self.GRAVITY * sin - cos * temp)
    / (self.LENGTH * (4 / 3 - self.MASSPOLE * cos ^ 2 / total_mass))
  local x_acc = temp - polemass_length * theta_acc * cos / total_mass
  -- Euler: positions move with the old velocities
  self.x = self.x + self.TAU * self.x_dot
  self.x_dot = self.x_dot + self.TAU * x_acc
  self.theta = self.theta + self.TAU * self.theta_dot
  self.theta_dot = self.theta_dot + self.TAU * theta_acc
  self.steps = self.steps + 1
  local terminated = self.x < -self.X_THRESHOLD or self.x > self.X_THRESHOLD
    or self.theta < -self.THETA_THRESHOLD or self.theta > self.THETA_THRESHOLD
  local truncated = self.steps >= self.MAX_STEPS
  self.done = terminated or truncated
  return self:state(), 1.0, terminated, truncated
end

return CartPole
