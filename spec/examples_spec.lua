-- examples_spec.lua: examples/mnist_cnn.lua and examples/gan.lua in their
-- --quick mode (a slice of Fashion-MNIST, one short epoch), on the CPU and
-- on OpenCL: they run to the end, print their figure, and write the PNGs
-- (which decode to images of the promised sizes) and the weights they
-- promise. The figures they reach in full runs are in examples/README.md.
local luann = require "luann"
local cmp = require "opencl_compare"
local helpers = require "helpers"

local build = os.getenv("LUANN_BUILD") or "build"
local exe = build .. "/luann"

local quote = require("helpers").quote

-- Runs an example; returns its output and exit status.
local function run(script, args)
  local out = os.tmpname()
  local _, _, code = os.execute(quote(exe) .. " examples/" .. script .. " " .. args .. " >" .. out .. " 2>&1")
  local text = helpers.read_file(out)
  os.remove(out)
  return text, code
end

local function scratch()
  local dir = os.tmpname()
  os.remove(dir)
  return dir
end

for _, device in ipairs({ "cpu", "opencl" }) do
  describe("examples --quick on " .. device, function()
    if device == "opencl" and not cmp.HAVE then
      it("needs an OpenCL device", function() pending("no OpenCL device") end)
      return
    end
    local dir = scratch()
    teardown(function() os.execute("rm -rf " .. quote(dir)) end)

    it("mnist_cnn.lua trains LeNet-5, prints its accuracy and writes filters, curves and weights", function()
      local out, code = run("mnist_cnn.lua", "--quick --no-progress --device " .. device .. " --out " .. quote(dir .. "/cnn"))
      assert.are.equal(0, code, out)
      local acc = tonumber(out:match("Test accuracy: ([%d.]+)%%"))
      assert.is_not_nil(acc, out)
      assert.is_true(acc > 15, "47 steps already beat chance (10%): " .. out)
      local filters = luann.image.load(dir .. "/cnn/filters.png")
      assert.are.equal(6 * 40 + 7 * 4, filters:size(3)) -- six 40x40 filters in a row, 4 pixels apart
      assert.is_not_nil(luann.image.load(dir .. "/cnn/curves.png"))
      local weights = luann.load(dir .. "/cnn/lenet.ckpt")
      assert.are.same({ 6, 1, 5, 5 }, weights["conv1.weight"].shape)
    end)

    it("gan.lua trains a DCGAN, writes samples and judges them with the LeNet", function()
      local out, code = run("gan.lua", "--quick --no-progress --device " .. device .. " --out " .. quote(dir .. "/gan")
        .. " --lenet " .. quote(dir .. "/cnn/lenet.ckpt"))
      assert.are.equal(0, code, out)
      local grid = luann.image.load(dir .. "/gan/samples_epoch1.png")
      assert.are.same({ 8 * 30 + 2, 8 * 30 + 2 }, { grid:size(2), grid:size(3) }) -- 8x8 of 28 px, 2 apart
      assert.truthy(out:find("LeNet on 1000 samples: smallest class [%d.]+%%, largest [%d.]+%%, mean top probability [%d.]+"), out)
      assert.truthy(out:find("LeNet on 1000 uniform noise images"), out)
    end)

    it("gan.lua --gp trains a WGAN-GP through create_graph", function()
      local out, code = run("gan.lua", "--quick --gp --no-progress --device " .. device .. " --out " .. quote(dir .. "/wgan")
        .. " --lenet " .. quote(dir .. "/missing.ckpt"))
      assert.are.equal(0, code, out)
      assert.truthy(out:find("Epoch 1: D loss %-?[%d.]+"), out)
    end)
  end)
end
