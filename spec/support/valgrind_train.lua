-- valgrind_train.lua: a short CPU training run for `make valgrind-test`
-- (mk/valgrind.mk), which runs it under valgrind's memcheck. It touches
-- what a real run does: a DataLoader over made-up data, an MLP with
-- dropout, cross entropy, backward, gradient clipping, Adam with a
-- learning-rate schedule, and a checkpoint of model and optimizer saved,
-- loaded back and checked. A fraction of a second natively, about ten
-- seconds under memcheck.
--
--   luann spec/support/valgrind_train.lua [steps]     (default 200)
local luann = require "luann"
local nn, optim, data = luann.nn, luann.optim, luann.data

local steps = math.tointeger(tonumber((...) or 200)) or error("steps must be an integer", 0)
luann.manual_seed(3)

-- 512 points in 16 dims; the class is the sign pattern of two projections
local x = luann.randn(512, 16)
local w = luann.randn(16, 2)
local proj = x:matmul(w):gt(0):long()
local y = proj:select(2, 1) * 2 + proj:select(2, 2) + 1 -- classes 1..4
local loader = data.DataLoader(data.TensorDataset(x, y), {batch_size = 64, shuffle = true, seed = 3})

local model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.1),
  nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 4))
local criterion = nn.CrossEntropyLoss()
local optimizer = optim.Adam(model:parameters(), {lr = 0.01})
local scheduler = optim.lr_scheduler.StepLR(optimizer, {step_size = 20, gamma = 0.5})

local step, first, last = 0, nil, nil
while step < steps do
  for xb, yb in loader do
    optimizer:zero_grad()
    local loss = criterion(model(xb), yb)
    loss:backward()
    nn.utils.clip_grad_norm_(model:parameters(), 5.0)
    optimizer:step()
    scheduler:step()
    first = first or loss:item()
    last = loss:item()
    step = step + 1
    if step == steps then break end
  end
end
assert(last < first, ("the loss did not fall: %g -> %g"):format(first, last))

-- a checkpoint saved, loaded into a fresh model and optimizer, and checked
local path = os.tmpname()
luann.save(path, {model = model:state_dict(), optimizer = optimizer:state_dict(), step = step})
local ckpt = luann.load(path)
os.remove(path)
local copy = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.1),
  nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 4))
copy:load_state_dict(ckpt.model)
optim.Adam(copy:parameters(), {lr = 0.01}):load_state_dict(ckpt.optimizer)
model:eval()
copy:eval()
local same = model(x):eq(copy(x)):all():item()
assert(same and ckpt.step == step, "the checkpoint does not give back the model")

local accuracy = model(x):argmax(2):eq(y):float():mean():item()
print(("valgrind_train: %d steps, loss %.4f -> %.4f, accuracy %.2f, checkpoint ok")
  :format(step, first, last, accuracy))
