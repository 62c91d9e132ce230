-- examples/mnist_cnn.lua: LeNet-5 on Fashion-MNIST (or MNIST with --data).
--
--   luann examples/mnist_cnn.lua [--epochs 12] [--batch-size 64] [--lr 0.01]
--     [--seed 1] [--data DIR] [--device cpu] [--out out/mnist_cnn] [--bn]
--     [--augment] [--quick] [--no-progress]
--
-- conv 1->6 5x5 (padding 2), ReLU, max-pool 2; conv 6->16 5x5, ReLU,
-- max-pool 2; linear 400->120->84->10 with ReLU between; SGD with momentum
-- 0.9. Prints the test accuracy as examples/mnist.lua does, and writes the
-- first layer's filters and the training curves as PNGs, and the weights
-- (lenet.ckpt: examples/gan.lua scores its samples with them).
local luann = require "luann"
local nn, F, optim, data = luann.nn, luann.nn.functional, luann.optim, luann.data
local common = dofile((arg and arg[0] and arg[0]:match("^(.*[/\\])") or "examples/") .. "common.lua")

local USAGE = "usage: mnist_cnn.lua [--epochs N] [--batch-size N] [--lr X] [--seed N] [--data DIR] "
  .. "[--device NAME] [--out DIR] [--bn] [--augment] [--quick] [--no-progress]"
local opts = common.parse_args({ ... }, { epochs = 12, batch_size = 64, lr = 0.01, seed = 1, data = "",
  device = "cpu", out = "out/mnist_cnn", bn = false, augment = false, quick = false, progress = true }, USAGE)
luann.manual_seed(opts.seed)

-- ---- data --------------------------------------------------------------------
local train_set, test_set = common.mnist(opts.data, true), common.mnist(opts.data, false)
if opts.quick then -- a smoke run: a slice of the data, one epoch
  train_set, test_set = data.Subset(train_set, 3000), data.Subset(test_set, 1000)
  opts.epochs = 1
end
local train_loader = data.DataLoader(train_set, { batch_size = opts.batch_size, shuffle = true, seed = opts.seed })
local test_loader = data.DataLoader(test_set, { batch_size = 1000 })
local augment = data.transforms.Compose({
  data.transforms.RandomCrop(28, { padding = 2 }), data.transforms.RandomHorizontalFlip() })

-- ---- model -------------------------------------------------------------------
local LeNet = dofile(common.dir .. "lenet.lua")
local model = LeNet(opts.bn):to(opts.device)
local criterion = nn.CrossEntropyLoss()
local optimizer = optim.SGD(model:parameters(), { lr = opts.lr, momentum = 0.9 })

-- ---- training ----------------------------------------------------------------
local curves = { ["train loss"] = {}, ["test accuracy"] = {} }
local timer = luann.utils.Timer()
for epoch = 1, opts.epochs do
  local batches = common.progress(train_loader, "Epoch " .. epoch, opts.progress)
  local loss_sum, n = 0, 0
  for images, labels in batches do
    images, labels = images:to(opts.device), labels:to(opts.device)
    if opts.augment then images = augment(images) end
    optimizer:zero_grad()
    local loss = criterion(model(images), labels)
    loss:backward()
    optimizer:step()
    loss_sum, n = loss_sum + loss:item(), n + 1
    if opts.progress then batches:set_postfix({ loss = loss }) end
  end
  local acc = common.accuracy(model, test_loader, opts.device)
  curves["train loss"][epoch], curves["test accuracy"][epoch] = loss_sum / n, acc
  print(string.format("Epoch %d, Loss: %.4f, test accuracy %.2f%% (%.0f s)", epoch, loss_sum / n,
    100 * acc, timer:elapsed()))
end

-- ---- results -----------------------------------------------------------------
local acc = curves["test accuracy"][opts.epochs]
print(string.format("Test accuracy: %.2f%% (%d/%d)", 100 * acc, math.floor(acc * #test_set + 0.5), #test_set))

local out = common.output_dir(opts.out)
local filters = model.conv1.weight:detach():cpu() -- (6, 1, 5, 5), each scaled to [0, 1] on its own
local lo = filters:amin({ 2, 3, 4 }, true)
local hi = filters:amax({ 2, 3, 4 }, true)
filters = (filters - lo) / (hi - lo + 1e-12)
filters = F.interpolate(filters, { scale_factor = 8, mode = "nearest" }) -- 40x40 pixels each
luann.image.save(out .. "filters.png", filters, { nrow = 6, padding = 4, pad_value = 1 })
luann.plot.line(out .. "curves.png", curves, { title = "LeNet-5 on " .. (opts.data ~= "" and opts.data or "Fashion-MNIST"),
  xlabel = "epoch", ylabel = "loss / accuracy" })
luann.save(out .. "lenet.ckpt", model:state_dict())
print("Wrote " .. out .. "filters.png, " .. out .. "curves.png and " .. out .. "lenet.ckpt")
