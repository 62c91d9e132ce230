-- examples/reinforce.lua: policy gradient on CartPole-v1 (examples/cartpole.lua).
--
--   luann examples/reinforce.lua [--seed 1] [--episodes 2000] [--device cpu]
--     [--out out/reinforce] [--quick] [--no-progress]
--
-- REINFORCE with a learned baseline: a 4-64-2 policy network (tanh) picks
-- push-left or push-right from a Categorical over its logits, a 4-64-1
-- network V estimates the discounted return G (gamma 0.99). After each
-- episode the policy follows (G - V(s)) grad log pi(a|s), the advantages
-- normalised over the episode, plus a little entropy, and V regresses on G;
-- both with Adam at 3e-3. An episode cut off at 500 steps is not a failure:
-- its return goes on past the cut as V of the last state. Training stops
-- when the average return of the last 100 episodes reaches 475 (CartPole-v1's
-- "solved"); the returns go to returns.csv and returns.png in --out.
local luann = require "luann"
local nn, optim = luann.nn, luann.optim
local Categorical = luann.distributions.Categorical
local here = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "examples/"
local common = dofile(here .. "common.lua")
local CartPole = dofile(here .. "cartpole.lua")

local USAGE = "usage: reinforce.lua [--seed N] [--episodes N] [--device NAME] [--out DIR] [--quick] [--no-progress]"
local opts = common.parse_args({ ... }, { seed = 1, episodes = 2000, device = "cpu", out = "out/reinforce",
  quick = false, progress = true }, USAGE)
if opts.quick then opts.episodes = 10 end -- a smoke run
local SOLVED, WINDOW = 475, 100
local GAMMA, ENTROPY, LR = 0.99, 0.01, 3e-3
luann.manual_seed(opts.seed)

-- ---- model -------------------------------------------------------------------
local policy = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 2)):to(opts.device)
local value = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 1)):to(opts.device)
local policy_opt = optim.Adam(policy:parameters(), { lr = LR })
local value_opt = optim.Adam(value:parameters(), { lr = LR })

-- One step's action, sampled with nothing recorded: the update recomputes
-- the log-probabilities of a whole episode in one batched forward.
local act = luann.no_grad(function(state)
  local logits = policy(luann.tensor({ state }, { device = opts.device }))
  return Categorical({ logits = logits }):sample()[1]
end)

-- Plays one episode; returns its states (T+1, the last one the state it
-- ended in), actions (T) and whether it was cut off rather than failed.
local function play(env)
  local states, actions = { env:reset() }, {}
  while true do
    local a = act(states[#states])
    local state, _, terminated, truncated = env:step(a)
    actions[#actions + 1] = a
    states[#states + 1] = state
    if terminated or truncated then return states, actions, truncated and not terminated end
  end
end

-- The discounted returns G_t = 1 + gamma G_(t+1) of the T steps (a reward
-- of 1 each); after the last step G is 0 when the pole fell and the value of
-- the last state when the episode was cut off.
local function discounted_returns(T, truncated, last_value)
  local G, g = {}, truncated and last_value or 0
  for t = T, 1, -1 do
    g = 1 + GAMMA * g
    G[t] = g
  end
  return G
end

-- One update from an episode.
local function update(states, actions, truncated)
  local T = #actions
  local x = luann.tensor(states, { device = opts.device }) -- (T+1, 4)
  local v = value(x):squeeze(2) -- (T+1)
  local G = luann.tensor(discounted_returns(T, truncated, v[T + 1]), { device = opts.device })
  v = v:narrow(1, 1, T)
  local adv = G - v:detach()
  if T > 1 then adv = (adv - adv:mean()) / (adv:std() + 1e-8) end

  local dist = Categorical({ logits = policy(x:narrow(1, 1, T)) })
  local log_prob = dist:log_prob(luann.tensor(actions, { dtype = "int64", device = opts.device }))
  local policy_loss = -(log_prob * adv):mean() - ENTROPY * dist:entropy():mean()
  policy_opt:zero_grad()
  policy_loss:backward()
  policy_opt:step()

  local value_loss = ((v - G) ^ 2):mean()
  value_opt:zero_grad()
  value_loss:backward()
  value_opt:step()
end

-- ---- training ----------------------------------------------------------------
local env = CartPole({ seed = opts.seed })
local returns, averages = {}, {}
local sum, solved_at = 0, nil
local timer = luann.utils.Timer()
local bar = luann.utils.progress(opts.episodes, { desc = "Episodes", disable = not opts.progress })
for episode in bar do
  local states, actions, truncated = play(env)
  update(states, actions, truncated)
  returns[episode] = #actions
  sum = sum + #actions - (returns[episode - WINDOW] or 0)
  averages[episode] = sum / math.min(episode, WINDOW)
  bar:set_postfix({ avg = averages[episode], ret = #actions })
  if episode >= WINDOW and averages[episode] >= SOLVED then
    solved_at = episode
    break
  end
end
bar:close()
local seconds = timer:elapsed()

-- ---- results -----------------------------------------------------------------
local out = common.output_dir(opts.out)
local csv = assert(io.open(out .. "returns.csv", "w"))
csv:write("episode,return,average100\n")
for i, r in ipairs(returns) do csv:write(string.format("%d,%d,%.2f\n", i, r, averages[i])) end
csv:close()
if luann.plot then
  luann.plot.line(out .. "returns.png", { ["return"] = returns, ["average of 100"] = averages },
    { title = string.format("REINFORCE with baseline on CartPole-v1 (seed %d)", opts.seed),
      xlabel = "episode", ylabel = "return" })
  print("Wrote " .. out .. "returns.csv and " .. out .. "returns.png")
else
  print("luann.plot is not available: no PNG written")
  print("Wrote " .. out .. "returns.csv")
end
local steps = 0
for _, r in ipairs(returns) do steps = steps + r end
if solved_at then
  print(string.format("Solved at episode %d: average return %.1f over episodes %d-%d (%d steps, %.1f s)",
    solved_at, averages[solved_at], solved_at - WINDOW + 1, solved_at, steps, seconds))
else
  print(string.format("Not solved in %d episodes: average return %.1f over the last %d (%d steps, %.1f s)",
    #returns, averages[#returns], math.min(#returns, WINDOW), steps, seconds))
end
