-- examples/pytorch_mlp.lua: evaluates in luann an MLP trained in PyTorch.
--
--   /usr/bin/python3 examples/export_mlp.py --out mlp.safetensors
--   build/luann examples/pytorch_mlp.lua [mlp.safetensors]
--
-- The same model is defined in luann as in PyTorch (Flatten, Linear, ReLU,
-- Linear), so the state dict loads without renaming: the file's metadata
-- says format = "pt", and the loader shifts PyTorch's child numbers (from
-- 0: "1.weight") to luann's (from 1: "2.weight"). It then runs the
-- Fashion-MNIST test set and prints luann's count of right answers beside
-- the one PyTorch wrote into the file: the two agree.
local luann = require "luann"
local nn, data = luann.nn, luann.data

local path = ... or "mlp.safetensors"
local sd, meta = luann.safetensors.load(path)
local model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
model:load_state_dict(sd)
model:eval()

local test = data.datasets.FashionMNIST(nil, { train = false })
local correct = 0
luann.no_grad(function()
  for images, labels in data.DataLoader(test, { batch_size = 1000 }) do
    correct = correct + (model(images):argmax(2):eq(labels)):sum():item()
  end
end)()
print(("luann:   %d/%d test images right"):format(correct, #test))
if meta.test_correct then
  print(("PyTorch: %s/%s (from %s)"):format(meta.test_correct, meta.test_total, path))
  if tonumber(meta.test_correct) ~= correct then
    io.stderr:write("the counts differ\n")
    os.exit(1)
  end
end
