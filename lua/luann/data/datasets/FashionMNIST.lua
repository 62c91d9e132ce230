--- data.datasets.FashionMNIST: Zalando's clothing images, a drop-in
-- replacement for MNIST (same files, sizes and layout; see MNIST for the
-- options). The root defaults to Debian's dataset-fashion-mnist package,
-- /usr/share/datasets/fashion-mnist.
-- @usage local test = data.datasets.FashionMNIST(nil, {train = false})
local MNIST = require "luann.data.datasets.MNIST"

local FashionMNIST = MNIST:extend("FashionMNIST")
FashionMNIST.default_root = "/usr/share/datasets/fashion-mnist"
FashionMNIST.mirrors = { "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" }
FashionMNIST.classes = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
  "Shirt", "Sneaker", "Bag", "Ankle boot" }

return FashionMNIST
