-- bench/mlp.lua: the tutorial's MLP (or LeNet-5) on preloaded Fashion-MNIST,
-- the luann twin of bench/mnist.py --mode preloaded (and of
-- bench/mnist_cnn.py with --model lenet), for bench/run.sh.
--
--   luann bench/mlp.lua [--epochs 1] [--batch-size 64] [--lr 0.01] [--seed 1]
--     [--model mlp|lenet] [--threads 0] [--limit N] [--data DIR]
--
-- The training set is read once into two tensors (images float32 in [0, 1],
-- labels int64); each epoch draws a random permutation and takes each batch
-- with index_select, as mnist.py does, so the epoch time is the training
-- step alone: no DataLoader, no dataset class. mlp: 784-128-10 ReLU, SGD
-- lr 0.01 (the tutorial's); lenet: examples/lenet.lua, SGD with momentum 0.9
-- (examples/mnist_cnn.lua's). Prints "Epoch times (s): ..." as
-- examples/mnist.lua does, and "RSS after each epoch (MiB): ..." (VmRSS
-- from /proc/self/status) for the long-run memory check. --threads N calls
-- luann.set_num_threads(N); 0 keeps luann's default.
local luann = require "luann"
local nn, optim = luann.nn, luann.optim

local USAGE = "usage: mlp.lua [--epochs N] [--batch-size N] [--lr X] [--seed N] [--model mlp|lenet] "
  .. "[--threads N] [--limit N] [--data DIR]"

local function parse_args(argv)
  local o = { epochs = 1, batch_size = 64, lr = 0.01, seed = 1, model = "mlp", threads = 0,
    data = "/usr/share/datasets/fashion-mnist" }
  local i = 1
  while i <= #argv do
    local key = argv[i]:match("^%-%-(.+)$")
    key = key and key:gsub("-", "_")
    local v = argv[i + 1]
    if key == nil or o[key] == nil and key ~= "limit" or v == nil then error(USAGE, 0) end
    o[key] = (type(o[key]) == "string") and v or tonumber(v) or error(argv[i] .. " needs a number\n" .. USAGE, 0)
    i = i + 2
  end
  if o.model ~= "mlp" and o.model ~= "lenet" then error(USAGE, 0) end
  return o
end

local opts = parse_args({ ... })
if opts.threads > 0 then luann.set_num_threads(opts.threads) end
luann.manual_seed(opts.seed)

-- VmRSS of this process in MiB.
local function rss_mib()
  local f = assert(io.open("/proc/self/status"))
  local kb = f:read("a"):match("VmRSS:%s*(%d+)")
  f:close()
  return tonumber(kb) / 1024
end

-- ---- data: read once ---------------------------------------------------------
local images = luann.read_idx(opts.data .. "/train-images-idx3-ubyte.gz")
local labels = luann.read_idx(opts.data .. "/train-labels-idx1-ubyte.gz")
local n = opts.limit and math.min(opts.limit, images:size(1)) or images:size(1)
local x = images:narrow(1, 1, n):float():div_(255):view(n, 1, 28, 28)
local y = labels:narrow(1, 1, n):long():add_(1)
images, labels = nil, nil
collectgarbage()

-- ---- model -------------------------------------------------------------------
local SimpleNN = nn.Module:extend("SimpleNN")

function SimpleNN:__init()
  self.fc1 = nn.Linear(28 * 28, 128)
  self.fc2 = nn.Linear(128, 10)
end

function SimpleNN:forward(input)
  return self.fc2(luann.relu(self.fc1(input:view(-1, 28 * 28))))
end

local model, optimizer
if opts.model == "mlp" then
  model = SimpleNN()
  optimizer = optim.SGD(model:parameters(), { lr = opts.lr })
else
  local here = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "bench/"
  model = dofile(here .. "../examples/lenet.lua")()
  optimizer = optim.SGD(model:parameters(), { lr = opts.lr, momentum = 0.9 })
end
local criterion = nn.CrossEntropyLoss()

-- ---- training ----------------------------------------------------------------
local times, rss = {}, {}
local loss
for epoch = 1, opts.epochs do
  local timer = luann.utils.Timer()
  local perm = luann.randperm(n)
  for start = 1, n, opts.batch_size do
    local idx = perm:narrow(1, start, math.min(opts.batch_size, n - start + 1))
    optimizer:zero_grad()
    loss = criterion(model(x:index_select(1, idx)), y:index_select(1, idx))
    loss:backward()
    optimizer:step()
  end
  times[epoch] = string.format("%.3f", timer:elapsed())
  rss[epoch] = string.format("%.1f", rss_mib())
  print(string.format("Epoch %d, Loss: %s", epoch, tostring(loss:item())))
end
print("Epoch times (s): " .. table.concat(times, " "))
print("RSS after each epoch (MiB): " .. table.concat(rss, " "))
