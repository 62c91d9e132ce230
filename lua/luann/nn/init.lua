--- luann.nn: layers, losses and the Module base class (PyTorch's torch.nn).
--
--    local nn = require "luann.nn"        -- or luann.nn
--    local model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
--    local criterion = nn.CrossEntropyLoss()
--
-- Custom models extend nn.Module (see luann.nn.Module for the class
-- mechanism). nn.functional holds the same operations as functions,
-- nn.init the initialisation schemes, nn.utils gradient clipping.
local nn = {
  Module = require "luann.nn.Module",
  Parameter = require "luann.nn.Parameter",
  functional = require "luann.nn.functional",
  init = require "luann.nn.initializers",
  utils = require "luann.nn.utils",
}

local layers = {
  "Linear", "Identity", "ReLU", "LeakyReLU", "GELU", "SiLU", "Sigmoid", "Tanh",
  "Softmax", "LogSoftmax", "Dropout", "Flatten", "Sequential", "ModuleList",
  "ModuleDict", "Loss", "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss",
  "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss",
  "LayerNorm", "MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer",
  "TransformerEncoder", "TransformerDecoder",
}
for _, name in ipairs(layers) do
  nn[name] = require("luann.nn." .. name)
end

--- Whether v is a module.
nn.is_module = nn.Module.is_module
--- Whether v is a parameter (made by nn.Parameter).
nn.is_parameter = nn.Parameter.is_parameter

return nn
