-- examples/mnist.lua: the PyTorch MNIST tutorial, line by line in luann.
--
--   luann examples/mnist.lua [--epochs 5] [--batch-size 64] [--lr 0.01]
--                            [--seed 1] [--data DIR] [--save PATH]
--                            [--device cpu] [--limit N] [--no-progress]
--   mpirun -np 2 luann examples/mnist.lua --distributed   (as root: mpirun --allow-run-as-root)
--
-- A 784-128-10 network with ReLU, trained with SGD on cross entropy for 5
-- epochs in shuffled batches of 64, printing the last batch's loss each
-- epoch as the tutorial does, then the test accuracy. The data is MNIST
-- from data/mnist (or --data DIR) when its files are there; otherwise
-- Fashion-MNIST from Debian's dataset-fashion-mnist package.
-- --distributed trains data-parallel over MPI (luann.distributed): each of
-- the N ranks takes batch-size / N samples of every batch from its shard
-- (data.DistributedSampler) and nn.DistributedDataParallel averages the
-- gradients, so the steps match one process's; rank 1 prints and saves.
local luann = require "luann"
local nn, optim, data, utils = luann.nn, luann.optim, luann.data, luann.utils

-- ---- options ---------------------------------------------------------------
local USAGE = "usage: mnist.lua [--epochs N] [--batch-size N] [--lr X] [--seed N] [--data DIR] "
  .. "[--save PATH] [--device NAME] [--limit N] [--no-progress] [--distributed]"

local function parse_args(argv)
  local o = { epochs = 5, batch_size = 64, lr = 0.01, seed = 1, device = "cpu", progress = true }
  local numeric = { ["--epochs"] = "epochs", ["--batch-size"] = "batch_size", ["--lr"] = "lr",
    ["--seed"] = "seed", ["--limit"] = "limit" }
  local text = { ["--data"] = "data", ["--save"] = "save", ["--device"] = "device" }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--help" or a == "-h" then
      print(USAGE)
      os.exit(0)
    elseif a == "--no-progress" then
      o.progress = false
    elseif a == "--distributed" then
      o.distributed = true
    elseif numeric[a] or text[a] then
      local v = argv[i + 1]
      if v == nil then error(a .. " needs a value\n" .. USAGE, 0) end
      if numeric[a] then
        o[numeric[a]] = tonumber(v) or error(a .. " needs a number, got '" .. v .. "'", 0)
      else
        o[text[a]] = v
      end
      i = i + 1
    else
      error("unknown option '" .. a .. "'\n" .. USAGE, 0)
    end
    i = i + 1
  end
  return o
end

local opts = parse_args({ ... })
luann.manual_seed(opts.seed)
local dist = opts.distributed and luann.distributed or nil
local rank, world = 1, 1
if dist then
  rank, world = dist.init()
  if opts.batch_size % world ~= 0 then
    error("--batch-size " .. opts.batch_size .. " does not divide among " .. world .. " ranks", 0)
  end
  opts.progress = opts.progress and rank == 1
end
local function say(...) if rank == 1 then print(...) end end

-- ---- data ------------------------------------------------------------------
-- Load dataset (images as float32 in [0,1], shape (N,1,28,28), like ToTensor)
local function load(train)
  if opts.data then return data.datasets.MNIST(opts.data, { train = train }) end
  local ok, ds = pcall(data.datasets.MNIST, "data/mnist", { train = train })
  if ok then return ds end
  if not tostring(ds):find("dataset not found", 1, true) then error(ds, 0) end
  if train then
    say("MNIST not found in data/mnist: using Fashion-MNIST from " .. data.datasets.FashionMNIST.default_root)
  end
  return data.datasets.FashionMNIST(nil, { train = train })
end

local train_dataset = load(true)
if opts.limit then train_dataset = data.Subset(train_dataset, math.tointeger(opts.limit)) end
local sampler = dist and data.DistributedSampler(train_dataset, { seed = opts.seed }) or nil
local train_loader = data.DataLoader(train_dataset, { batch_size = opts.batch_size // world,
  shuffle = sampler == nil, seed = sampler == nil and opts.seed or nil, sampler = sampler })

-- ---- model -----------------------------------------------------------------
-- Define artificial neural network class
local SimpleNN = nn.Module:extend("SimpleNN")

function SimpleNN:__init()
  self.fc1 = nn.Linear(28 * 28, 128)
  self.fc2 = nn.Linear(128, 10)
end

function SimpleNN:forward(x)
  x = x:view(-1, 28 * 28)        -- Convert to 1D
  x = luann.relu(self.fc1(x))    -- Activation function
  x = self.fc2(x)                -- Final output
  return x
end

-- Define model, loss function and optimizer
local model = SimpleNN():to(opts.device)
if dist then model = nn.DistributedDataParallel(model) end
local criterion = nn.CrossEntropyLoss()
local optimizer = optim.SGD(model:parameters(), { lr = opts.lr })
local on_cpu = opts.device == "cpu"

-- ---- training --------------------------------------------------------------
local epoch_times = {}
for epoch = 1, opts.epochs do
  if sampler then sampler:set_epoch(epoch) end
  local batches = opts.progress and utils.progress(train_loader, { desc = "Epoch " .. epoch })
    or train_loader
  local timer = utils.Timer()
  local loss
  for images, labels in batches do
    if not on_cpu then images, labels = images:to(opts.device), labels:to(opts.device) end
    optimizer:zero_grad()                    -- Initialize gradients
    local outputs = model(images)            -- Model prediction
    loss = criterion(outputs, labels)        -- Calculate loss
    loss:backward()                          -- Backpropagation
    optimizer:step()                         -- Update weights
    if opts.progress then batches:set_postfix({ loss = loss }) end
  end
  -- a device runs behind the host: wait for its queue before reading the time
  if not on_cpu then luann.opencl.synchronize(opts.device) end
  epoch_times[epoch] = timer:elapsed()
  say(string.format("Epoch %d, Loss: %s", epoch, tostring(loss:item())))
end

local times = {}
for i, t in ipairs(epoch_times) do times[i] = string.format("%.3f", t) end
say("Epoch times (s): " .. table.concat(times, " "))

-- ---- evaluation ------------------------------------------------------------
local test_loader = data.DataLoader(load(false), { batch_size = 1000 })
model:eval()
local correct, total = 0, 0
do
  local guard <close> = luann.no_grad()
  for images, labels in test_loader do
    if not on_cpu then images, labels = images:to(opts.device), labels:to(opts.device) end
    local predicted = model(images):argmax(2)
    correct = correct + predicted:eq(labels):sum():item()
    total = total + labels:numel()
  end
end
say(string.format("Test accuracy: %.2f%% (%d/%d)", 100 * correct / total, correct, total))

if opts.save then
  if dist then dist.save(opts.save, model:state_dict()) else luann.save(opts.save, model:state_dict()) end
  say("Saved the model's state_dict to " .. opts.save)
end
