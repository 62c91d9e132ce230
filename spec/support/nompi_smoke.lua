-- spec/support/nompi_smoke.lua: the smoke test of a build without MPI
-- (make mpi-nompi): a few training steps fit a line, and luann.distributed
-- reports the missing module instead of failing obscurely.
local luann = require "luann"
local nn, optim = luann.nn, luann.optim

luann.manual_seed(1)
local x = luann.randn(64, 1)
local y = x * 3 + 1
local model = nn.Linear(1, 1)
local opt = optim.SGD(model:parameters(), { lr = 0.1 })
local loss
for _ = 1, 200 do
  opt:zero_grad()
  loss = nn.MSELoss()(model(x), y)
  loss:backward()
  opt:step()
end
assert(loss:item() < 1e-4, "training did not converge: loss " .. loss:item())
assert(math.abs(model.weight:item() - 3) < 1e-2, "weight " .. model.weight:item())

local dist = luann.distributed
assert(dist.is_available() == false, "luann_mpi found in a build without MPI")
local ok, err = pcall(dist.init)
assert(not ok and tostring(err):find("luann was built without MPI", 1, true), tostring(err))
print("nompi smoke: ok (loss " .. string.format("%.2g", loss:item()) .. ")")
