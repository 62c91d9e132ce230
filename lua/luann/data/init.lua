--- luann.data: datasets and batching (PyTorch's torch.utils.data and
-- torchvision.datasets).
--
--    local data = require "luann.data"     -- or luann.data
--    local train = data.datasets.FashionMNIST(nil, {train = true})
--    local loader = data.DataLoader(train, {batch_size = 64, shuffle = true})
--    for images, labels in loader do ... end
local collate = require "luann.data.collate"

return {
  Dataset = require "luann.data.Dataset",
  TensorDataset = require "luann.data.TensorDataset",
  ListDataset = require "luann.data.ListDataset",
  Subset = require "luann.data.Subset",
  ConcatDataset = require "luann.data.ConcatDataset",
  random_split = require "luann.data.random_split",
  transforms = require "luann.data.transforms",
  DataLoader = require "luann.data.DataLoader",
  DistributedSampler = require "luann.data.DistributedSampler",
  default_collate = collate.default_collate,
  datasets = require "luann.data.datasets",
}
