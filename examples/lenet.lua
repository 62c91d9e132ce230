-- examples/lenet.lua: LeNet-5 as examples/mnist_cnn.lua trains it (and as
-- examples/gan.lua and bench/ reuse it): conv 1->6 5x5 (padding 2), ReLU,
-- max-pool 2; conv 6->16 5x5, ReLU, max-pool 2; linear 400->120->84->10
-- with ReLU between. LeNet(true) adds batch norm after each conv.
local luann = require "luann"
local nn, F = luann.nn, luann.nn.functional

local LeNet = nn.Module:extend("LeNet")

function LeNet:__init(batch_norm)
  self.conv1 = nn.Conv2d(1, 6, 5, { padding = 2 })
  self.conv2 = nn.Conv2d(6, 16, 5)
  if batch_norm then self.bn1, self.bn2 = nn.BatchNorm2d(6), nn.BatchNorm2d(16) end
  self.fc1 = nn.Linear(400, 120)
  self.fc2 = nn.Linear(120, 84)
  self.fc3 = nn.Linear(84, 10)
end

function LeNet:forward(x)
  x = self.conv1(x)
  if self.bn1 then x = self.bn1(x) end
  x = F.max_pool2d(F.relu(x), 2)
  x = self.conv2(x)
  if self.bn2 then x = self.bn2(x) end
  x = F.max_pool2d(F.relu(x), 2)
  x = x:flatten(2)
  x = F.relu(self.fc1(x))
  x = F.relu(self.fc2(x))
  return self.fc3(x)
end

return LeNet
