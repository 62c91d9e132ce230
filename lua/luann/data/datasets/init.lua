--- data.datasets: ready-made datasets (torchvision.datasets).
return {
  MNIST = require "luann.data.datasets.MNIST",
  FashionMNIST = require "luann.data.datasets.FashionMNIST",
}
