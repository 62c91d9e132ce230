-- examples/gan.lua: a DCGAN on Fashion-MNIST (or MNIST with --data), or a
-- WGAN-GP with --gp (its gradient penalty differentiates a gradient:
-- create_graph).
--
--   luann examples/gan.lua [--epochs 6] [--batch-size 64] [--seed 1]
--     [--data DIR] [--device cpu] [--out out/gan] [--lenet out/mnist_cnn/lenet.ckpt]
--     [--gp] [--quick] [--no-progress]
--
-- The generator maps 64 noise values through a linear layer to 64x7x7,
-- then two transposed convolutions (with batch norm) to a 28x28 image in
-- [-1, 1]; the discriminator mirrors it with strided convolutions (widths
-- half of DCGAN's usual, so that 6 epochs fit the budget on 2 cores). After
-- each epoch it writes a grid of 64 samples from a fixed noise vector.
-- At the end, the LeNet-5 that examples/mnist_cnn.lua trained and saved
-- classifies 1,000 samples: how they spread over the 10 classes and how
-- sure it is, beside the same figures for uniform noise.
local luann = require "luann"
local nn, F, optim, data = luann.nn, luann.nn.functional, luann.optim, luann.data
local common = dofile((arg and arg[0] and arg[0]:match("^(.*[/\\])") or "examples/") .. "common.lua")

local USAGE = "usage: gan.lua [--epochs N] [--batch-size N] [--seed N] [--data DIR] [--device NAME] "
  .. "[--out DIR] [--lenet PATH] [--gp] [--quick] [--no-progress]"
local opts = common.parse_args({ ... }, { epochs = 6, batch_size = 64, seed = 1, data = "", device = "cpu",
  out = "out/gan", lenet = "out/mnist_cnn/lenet.ckpt", gp = false, quick = false, progress = true }, USAGE)
luann.manual_seed(opts.seed)
local NOISE = 64

-- ---- data: images scaled to [-1, 1] --------------------------------------------
local train_set = common.mnist(opts.data, true)
if opts.quick then train_set, opts.epochs = data.Subset(train_set, 256), 1 end
local loader = data.DataLoader(train_set, { batch_size = opts.batch_size, shuffle = true, seed = opts.seed,
  drop_last = true })

-- ---- models --------------------------------------------------------------------
local function generator()
  return nn.Sequential(
    nn.Linear(NOISE, 64 * 7 * 7), nn.BatchNorm1d(64 * 7 * 7), nn.ReLU(),
    nn.Unflatten(2, { 64, 7, 7 }),
    nn.ConvTranspose2d(64, 32, 4, { stride = 2, padding = 1 }), nn.BatchNorm2d(32), nn.ReLU(), -- 14x14
    nn.ConvTranspose2d(32, 1, 4, { stride = 2, padding = 1 }), nn.Tanh())                     -- 28x28
end

-- A WGAN critic has no batch norm (the penalty is per sample): layer norm instead.
local function discriminator(critic)
  return nn.Sequential(
    nn.Conv2d(1, 32, 4, { stride = 2, padding = 1 }), nn.LeakyReLU(0.2),                       -- 14x14
    nn.Conv2d(32, 64, 4, { stride = 2, padding = 1 }),                                          -- 7x7
    critic and nn.LayerNorm({ 64, 7, 7 }) or nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
    nn.Flatten(), nn.Linear(64 * 7 * 7, 1))
end

-- DCGAN's initialisation: weights from N(0, 0.02), batch norm scales from N(1, 0.02).
local function init(model)
  local guard <close> = luann.no_grad()
  for _, m in ipairs(model:modules()) do
    local kind = tostring(m.__name or "")
    if kind:find("Conv") or kind == "Linear" then m.weight:normal_(0, 0.02) end
    if kind:find("BatchNorm") then m.weight:normal_(1, 0.02) end
    if m.bias ~= nil then m.bias:zero_() end
  end
  return model
end

local G = init(generator()):to(opts.device)
local D = init(discriminator(opts.gp)):to(opts.device)
local adam = opts.gp and { lr = 1e-4, betas = { 0.5, 0.9 } } or { lr = 2e-4, betas = { 0.5, 0.999 } }
local opt_g, opt_d = optim.Adam(G:parameters(), adam), optim.Adam(D:parameters(), adam)
local fixed = luann.randn(64, NOISE, { generator = luann.Generator(opts.seed) }):to(opts.device)
local out = common.output_dir(opts.out)

local function noise(n) return luann.randn(n, NOISE):to(opts.device) end

-- ---- one step of each ------------------------------------------------------------
local bce = nn.BCEWithLogitsLoss()

-- The non-saturating GAN: D tells real from fake, G makes D call fakes real.
local function dcgan_step(real)
  local n = real:size(1)
  local ones, zeros = luann.ones(n, 1):to(opts.device), luann.zeros(n, 1):to(opts.device)
  local fake = G(noise(n))
  opt_d:zero_grad()
  local loss_d = bce(D(real), ones) + bce(D(fake:detach()), zeros)
  loss_d:backward()
  opt_d:step()
  opt_g:zero_grad()
  local loss_g = bce(D(fake), ones)
  loss_g:backward()
  opt_g:step()
  return loss_d:item(), loss_g:item()
end

-- WGAN-GP (Gulrajani et al. 2017): five critic steps per generator step,
-- with the penalty (|grad_x D(x)| - 1)^2 at points between real and fake.
local critic_steps = 0
local function wgan_step(real)
  local n = real:size(1)
  local fake = G(noise(n)):detach()
  local eps = luann.rand(n, 1, 1, 1):to(opts.device)
  local between = (eps * real + (1 - eps) * fake):requires_grad_()
  local grad = luann.autograd.grad(D(between):sum(), between, { create_graph = true })[1]
  local penalty = ((grad:flatten(2):norm(2, 2) - 1) ^ 2):mean()
  opt_d:zero_grad()
  local loss_d = D(fake):mean() - D(real):mean() + 10 * penalty
  loss_d:backward()
  opt_d:step()
  critic_steps = critic_steps + 1
  if critic_steps % 5 ~= 0 then return loss_d:item(), nil end
  opt_g:zero_grad()
  local loss_g = -D(G(noise(n))):mean()
  loss_g:backward()
  opt_g:step()
  return loss_d:item(), loss_g:item()
end

-- ---- training ---------------------------------------------------------------------
local step = opts.gp and wgan_step or dcgan_step
local curves = { discriminator = {}, generator = {} }
local timer = luann.utils.Timer()
for epoch = 1, opts.epochs do
  local batches = common.progress(loader, "Epoch " .. epoch, opts.progress)
  local last_g = 0
  for images in batches do
    local ld, lg = step(images:to(opts.device) * 2 - 1)
    last_g = lg or last_g
    curves.discriminator[#curves.discriminator + 1] = ld
    curves.generator[#curves.generator + 1] = last_g
    if opts.progress then batches:set_postfix({ D = ld, G = last_g }) end
  end
  G:eval()
  do
    local guard <close> = luann.no_grad()
    local samples = (G(fixed) + 1) / 2
    luann.image.save(string.format("%ssamples_epoch%d.png", out, epoch), samples:cpu(),
      { nrow = 8, padding = 2 })
  end
  G:train()
  print(string.format("Epoch %d: D loss %.3f, G loss %.3f (%.0f s); wrote %ssamples_epoch%d.png",
    epoch, curves.discriminator[#curves.discriminator], last_g, timer:elapsed(), out, epoch))
end
luann.plot.line(out .. "losses.png", curves, { title = opts.gp and "WGAN-GP" or "DCGAN",
  xlabel = "step", ylabel = "loss" })
luann.save(out .. "generator.ckpt", G:state_dict())

-- ---- judging the samples with the classifier ----------------------------------------
-- How 1,000 images spread over LeNet's classes, and its mean top probability.
local function judge(classifier, images)
  local guard <close> = luann.no_grad()
  local p = F.softmax(classifier(images), 2)
  local top, class = p:max(2)
  local counts = {}
  for c = 1, 10 do counts[c] = 0 end
  for _, c in ipairs(class:tolist()) do counts[c] = counts[c] + 1 end
  local lo, hi = math.huge, 0
  for c = 1, 10 do lo, hi = math.min(lo, counts[c]), math.max(hi, counts[c]) end
  return lo / images:size(1), hi / images:size(1), top:mean():item()
end

local ok, weights = pcall(luann.load, opts.lenet)
if not ok then
  print("No LeNet weights at " .. opts.lenet .. " (run examples/mnist_cnn.lua first): samples not judged")
else
  local LeNet = dofile(common.dir .. "lenet.lua")
  local classifier = LeNet()
  classifier:load_state_dict(weights)
  classifier:eval()
  G:eval()
  local samples
  do
    local guard <close> = luann.no_grad()
    samples = ((G(noise(1000)) + 1) / 2):cpu()
  end
  local lo, hi, conf = judge(classifier, samples)
  local ulo, uhi, uconf = judge(classifier, luann.rand(1000, 1, 28, 28))
  print(string.format("LeNet on 1000 samples: smallest class %.1f%%, largest %.1f%%, mean top probability %.3f",
    100 * lo, 100 * hi, conf))
  print(string.format("LeNet on 1000 uniform noise images: smallest class %.1f%%, largest %.1f%%, "
    .. "mean top probability %.3f", 100 * ulo, 100 * uhi, uconf))
end
