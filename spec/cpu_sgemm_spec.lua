-- cpu_sgemm_spec.lua: float32 products through core/cpu_sgemm.c's kernels
-- (on AVX-512 CPUs; elsewhere these run through BLIS and must pass too),
-- against the same products in float64. Shapes cross every edge of the
-- kernels' tiles (8 x 48 for b's rows contiguous, 4 x 6 for a Linear's
-- x @ w^T, used from a depth of 512 or for outputs up to 32 wide; the
-- 16-wide vectors; the 128-step passes), in each layout a
-- training step makes, at one thread and two.
local luann = require "luann"

-- largest error of a float32 product against float64, over sqrt(k)
local function product_error(m, n, k, a_t, b_t)
  local a = a_t and luann.randn(k, m):t() or luann.randn(m, k)
  local b = b_t and luann.randn(n, k):t() or luann.randn(k, n)
  local got = luann.matmul(a, b):double()
  local want = luann.matmul(a:double(), b:double())
  assert.are.same({ m, n }, { got:size(1), got:size(2) })
  return (got - want):abs():max():item() / math.sqrt(k)
end

describe("float32 matrix products (cpu_sgemm.c)", function()
  local threads = luann.get_num_threads()
  after_each(function() luann.set_num_threads(threads) end)

  for _, nt in ipairs({ 1, 2 }) do
    it("match float64 across the tiles' edges, in every layout, on " .. nt .. " thread(s)", function()
      luann.set_num_threads(nt)
      luann.manual_seed(7)
      local worst = 0
      for _, m in ipairs({ 1, 4, 5, 8, 9, 64 }) do
        for _, n in ipairs({ 1, 6, 7, 16, 17, 33, 48, 49, 130 }) do
          for _, k in ipairs({ 1, 15, 16, 17, 129, 300, 520 }) do
            for _, a_t in ipairs({ false, true }) do
              for _, b_t in ipairs({ false, true }) do
                worst = math.max(worst, product_error(m, n, k, a_t, b_t))
              end
            end
          end
        end
      end
      assert.is_true(worst < 2e-5, "worst scaled error " .. worst)
    end)
  end

  it("splits c between two threads in bands of rows or of columns, at any edge", function()
    -- outer kernel: rows split (m >= 16), columns in whole vectors (m < 16);
    -- dot kernel: columns split (n >= 12), rows (n < 12); odd sizes put a
    -- partial tile at the bands' border
    luann.set_num_threads(2)
    luann.manual_seed(10)
    local worst = 0
    for _, s in ipairs({ { 9, 1000, 520 }, { 15, 785, 600 }, { 101, 333, 130 },
        { 1000, 10, 600 }, { 999, 11, 700 }, { 77, 131, 800 }, { 13, 13, 9000 } }) do
      for _, b_t in ipairs({ false, true }) do
        worst = math.max(worst, product_error(s[1], s[2], s[3], false, b_t))
      end
    end
    assert.is_true(worst < 2e-5, "worst scaled error " .. worst)
  end)

  it("scales and adds into c: addmm's alpha and beta, Linear's bias", function()
    luann.manual_seed(8)
    local c = luann.randn(13, 33)
    local a, b = luann.randn(13, 200), luann.randn(200, 33)
    local got = luann.addmm(c, a, b, { beta = 0.5, alpha = 2 }):double()
    local want = c:double() * 0.5 + luann.matmul(a:double(), b:double()) * 2
    assert.is_true((got - want):abs():max():item() < 1e-4)
    -- a Linear layer's three products: x @ w^T + bias, g @ w, g^T @ x
    local x = luann.randn(70, 784, { requires_grad = true })
    local w = luann.randn(130, 784, { requires_grad = true })
    local bias = luann.randn(130)
    local y = luann.linear(x, w, bias)
    local want_y = luann.matmul(x:double(), w:double():t()) + bias:double()
    assert.is_true((y:double() - want_y):abs():max():item() < 1e-3)
    local g = luann.randn(70, 130)
    y:backward(g)
    local want_gx = luann.matmul(g:double(), w:double())
    local want_gw = luann.matmul(g:double():t(), x:double())
    assert.is_true((x.grad:double() - want_gx):abs():max():item() < 1e-3)
    assert.is_true((w.grad:double() - want_gw):abs():max():item() < 1e-3)
  end)

  it("never reads c when beta is 0 (a NaN there does not leak)", function()
    local a, b = luann.ones(5, 20), luann.ones(20, 40)
    local c = luann.full({ 5, 40 }, 0 / 0)
    local got = luann.addmm(c, a, b, { beta = 0 })
    assert.are.equal(20, got:max():item())
    assert.are.equal(20, got:min():item())
  end)

  it("gives the same bits on one thread and two (threads split c, never a sum)", function()
    luann.manual_seed(9)
    local x, w = luann.randn(64, 784), luann.randn(128, 784)
    luann.set_num_threads(1)
    local g = luann.randn(64, 128)
    local one, one_gw = luann.linear(x, w), luann.matmul(g:t(), x)
    luann.set_num_threads(2)
    local two, two_gw = luann.linear(x, w), luann.matmul(g:t(), x)
    assert.are.equal(0, (one - two):abs():max():item())
    assert.are.equal(0, (one_gw - two_gw):abs():max():item())
  end)
end)
