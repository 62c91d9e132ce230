--- data.datasets.MNIST: the MNIST digits (60000 training and 10000 test
-- 28x28 images), read from the four standard IDX files (plain or .gz) in
-- root, root/MNIST/raw or root/raw (torchvision's layout).
--
-- Like torchvision with ToTensor, samples are float32 images (1, 28, 28) in
-- [0, 1] and int64 labels, 1-based here (digit d is class d + 1). The whole
-- set is held as two tensors, ds.tensors = {images (N,1,28,28), targets (N)},
-- the images as their uint8 bytes (47 MB for the training set, not 188 as
-- float32): a DataLoader batches them without per-sample work and converts
-- each batch to floats. ds.data is the same bytes as (N, 28, 28), ds.classes
-- the class names.
--
-- Options: train (true: the training set; false: the test set), download
-- (false: with true, missing files are fetched with curl or wget into
-- root), transform / target_transform (functions applied per sample by
-- get; they turn off the DataLoader's batch fast path).
-- @usage local train = data.datasets.MNIST("data/mnist", {train = true, download = true})
local luann = require "luann"
local check = require "luann.utils.check"
local TensorDataset = require "luann.data.TensorDataset"

local MNIST = TensorDataset:extend("MNIST")
MNIST.mirrors = { "https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/" }
MNIST.classes = { "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
  "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine" }
MNIST.files = {
  train = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte" },
  test = { "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" },
}

--- Where download messages go (stderr; a subclass may change it).
function MNIST.log(msg)
  io.stderr:write(msg, "\n")
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- The path of a file (plain or .gz) in one of the usual folders, or nil.
function MNIST:find_file(root, base)
  local dirs = { root, root .. "/" .. self.__name .. "/raw", root .. "/raw" }
  for _, dir in ipairs(dirs) do
    for _, name in ipairs({ base, base .. ".gz", (base:gsub("%-idx", ".idx")) }) do
      if exists(dir .. "/" .. name) then return dir .. "/" .. name end
    end
  end
  return nil
end

--- Fetches base.gz from the mirrors into root with curl or wget.
function MNIST:download_file(root, base)
  local tool
  if os.execute("command -v curl >/dev/null 2>&1") then
    tool = "curl -fsL --retry 2 -o %s %s 2>/dev/null"
  elseif os.execute("command -v wget >/dev/null 2>&1") then
    tool = "wget -q -O %s %s 2>/dev/null"
  else
    check.error(self.__name .. ": download needs curl or wget, and neither is installed", 2)
  end
  os.execute("mkdir -p " .. shell_quote(root))
  local dest = root .. "/" .. base .. ".gz"
  for _, mirror in ipairs(self.mirrors) do
    self.log("Downloading " .. mirror .. base .. ".gz")
    if os.execute(string.format(tool, shell_quote(dest .. ".part"), shell_quote(mirror .. base .. ".gz"))) then
      assert(os.rename(dest .. ".part", dest))
      return dest
    end
  end
  os.remove(dest .. ".part")
  check.error(string.format("%s: could not download %s.gz from %s", self.__name, base,
    table.concat(self.mirrors, " or ")), 2)
end

--- @param root the folder holding the files
-- @param opts {train = true, download = false, transform = nil, target_transform = nil}
function MNIST:__init(root, opts)
  local fname = "datasets." .. self.__name
  root = root or self.default_root
  if type(root) ~= "string" then
    check.error(fname .. ": bad argument #1 'root' (folder path expected, got " .. type(root) .. ")", 2)
  end
  opts = check.options(fname, 2, opts, 3)
  check.known_options(fname, opts, { train = true, download = true, transform = true, target_transform = true }, 3)
  self.root = root
  self.train = check.boolean(fname, 2, opts.train, "train", true, 3)
  self.transform, self.target_transform = opts.transform, opts.target_transform
  local names = self.files[self.train and "train" or "test"]
  local paths = {}
  for i, base in ipairs(names) do
    paths[i] = self:find_file(root, base)
    if paths[i] == nil and opts.download then paths[i] = self:download_file(root, base) end
    if paths[i] == nil then
      check.error(string.format("%s: dataset not found: no %s or %s.gz in %s (nor %s/%s/raw)%s", fname, base,
        base, root, root, self.__name, opts.download and "" or "; pass {download = true} to fetch it"), 2)
    end
  end
  self:load(paths[1], paths[2], fname)
end

--- Reads the IDX files into float images in [0, 1] and 1-based labels.
function MNIST:load(images_path, labels_path, fname)
  local images = luann.read_idx(images_path)
  local labels = luann.read_idx(labels_path)
  if images:dim() ~= 3 or labels:dim() ~= 1 or images:size(1) ~= labels:size(1) then
    check.error(string.format("%s: %s holds %s and %s holds %s: expected images (N,H,W) and N labels",
      fname, images_path, check.shape_str(images), labels_path, check.shape_str(labels)), 2)
  end
  self.data = images
  self.targets = labels:long():add_(1)
  TensorDataset.__init(self, images:view(images:size(1), 1, images:size(2), images:size(3)),
    self.targets)
end

-- Bytes to floats in [0, 1], as ToTensor does.
local function to_unit_float(bytes)
  return bytes:float():div_(255)
end
local CONVERT = { to_unit_float }

--- Sample i: an image (1, 28, 28) and its label, through the transforms if any.
function MNIST:get(i)
  local x, y = TensorDataset.get(self, i)
  x = to_unit_float(x)
  if self.transform then x = self.transform(x) end
  if self.target_transform then y = self.target_transform(y) end
  return x, y
end

--- The tensors for the DataLoader's fast path (none with transforms).
function MNIST:batch_tensors()
  if self.transform or self.target_transform then return nil end
  return self.tensors, CONVERT
end

function MNIST:__tostring()
  return string.format("Dataset %s\n    Number of datapoints: %d\n    Root location: %s\n    Split: %s",
    self.__name, #self, self.root, self.train and "Train" or "Test")
end

return MNIST
