-- examples/mnist.lua end to end: the tutorial program trained briefly on a
-- subset of Fashion-MNIST (Debian's package), through the luann executable.
-- Checks the output format, that the loss goes down, that the model learns
-- well above chance, and the tutorial's full run: >= 81% test accuracy
-- after 5 epochs with its settings. The runs use OMP_WAIT_POLICY=passive so
-- that a busy machine slows them down by a little, not by 10x (see
-- bench/RESULTS.md); timings are bench/mnist.sh's job.
local build = os.getenv("LUANN_BUILD") or "build"
local DATA = "/usr/share/datasets/fashion-mnist"

-- Runs the example with arguments; returns its output and exit status.
local function run(args)
  local p = io.popen("OMP_WAIT_POLICY=passive " .. build .. "/luann examples/mnist.lua " .. args .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function have_data()
  local f = io.open(DATA .. "/train-images-idx3-ubyte.gz", "rb")
  if f then f:close() end
  return f ~= nil
end

describe("examples/mnist.lua", function()
  it("trains, printing the tutorial's lines, and the loss goes down", function()
    if not have_data() then return pending("dataset-fashion-mnist is not installed") end
    local save = os.tmpname()
    local out, code = run("--data " .. DATA .. " --limit 4096 --epochs 3 --lr 0.05 --seed 3 --save " .. save)
    assert.are.equal(0, code, out)
    local losses = {}
    for n, loss in out:gmatch("\nEpoch (%d+), Loss: ([%d.e%-]+)\n") do losses[tonumber(n)] = tonumber(loss) end
    for n, loss in out:gmatch("^Epoch (%d+), Loss: ([%d.e%-]+)\n") do losses[tonumber(n)] = tonumber(loss) end
    assert.are.equal(3, #losses, out)
    assert.is_true(losses[3] < losses[1], out)
    assert.matches("\nEpoch times %(s%): [%d.]+ [%d.]+ [%d.]+\n", out)
    local acc = tonumber(out:match("\nTest accuracy: ([%d.]+)%% %(%d+/10000%)\n"))
    assert.is_not_nil(acc, out)
    assert.is_true(acc > 50, out)
    -- the saved state_dict loads back into the same shapes
    local luann = require "luann"
    local sd = luann.load(save)
    os.remove(save)
    assert.are.same({ 128, 784 }, sd["fc1.weight"].shape)
    assert.are.same({ 10 }, sd["fc2.bias"].shape)
  end)

  it("reaches 81% on Fashion-MNIST in the tutorial's 5 epochs", function()
    if not have_data() then return pending("dataset-fashion-mnist is not installed") end
    local out, code = run("--data " .. DATA .. " --no-progress")
    assert.are.equal(0, code, out)
    local n = 0
    for _ in out:gmatch("Epoch %d, Loss: ") do n = n + 1 end
    assert.are.equal(5, n, out)
    local acc = tonumber(out:match("\nTest accuracy: ([%d.]+)%%"))
    assert.is_true(acc >= 81, out)
  end)

  it("draws a progress line per epoch", function()
    if not have_data() then return pending("dataset-fashion-mnist is not installed") end
    local out, code = run("--data " .. DATA .. " --limit 640 --epochs 1")
    assert.are.equal(0, code, out)
    assert.matches("Epoch 1: 10/10 %[%d%d:%d%d, [%d.]+it/s, loss=[%d.]+%]\nEpoch 1, Loss: ", out)
  end)

  it("rejects unknown options", function()
    local out, code = run("--epoch 2")
    assert.are_not.equal(0, code)
    assert.matches("unknown option '%-%-epoch'", out)
  end)
end)
