-- luann.nn's recurrent layers (nn.RNN, nn.LSTM, nn.GRU and their cells):
-- every PyTorch reference case of spec/reference/recurrent.lua (outputs,
-- final states and every gradient, float64), finite-difference gradients,
-- OpenCL against the CPU, errors, state_dict names, and a small sequence
-- task that trains.
local luann = require "luann"
local nn = require "luann.nn"
local F = nn.functional
local ref = require "reference.load"
local helpers = require "helpers"
local cmp = require "opencl_compare"
local gradcheck = luann.autograd.gradcheck

local TOL = 1e-10

local function f64(shape) return luann.randn(shape, { dtype = "float64" }) end

-- The module of a reference case, float64, with the stored parameters
-- loaded by their state_dict names.
local function build(c)
  local o = { dtype = "float64" }
  for k, v in pairs(c.module_options) do
    if k ~= "input_size" and k ~= "hidden_size" then o[k] = v end
  end
  local m = nn[c.module](c.module_options.input_size, c.module_options.hidden_size, o)
  local sd = {}
  for k, v in pairs(c.parameters) do sd[k] = ref.tensor(v) end
  m:load_state_dict(sd)
  return m
end

local sorted_keys = helpers.sorted_keys

-- Runs a case's module on its inputs; the outputs by PyTorch's names.
local function run_case(m, c, x, h0, c0)
  local lstm = c.module == "LSTM" or c.module == "LSTMCell"
  local hx = h0
  if lstm then hx = h0 and { h0, c0 } end
  local a, b = m(x, hx)
  if c.module == "LSTM" then return { output = a, h_n = b[1], c_n = b[2] } end
  if c.module == "LSTMCell" then return { h_1 = a[1], c_1 = a[2] } end
  if b ~= nil then return { output = a, h_n = b } end
  return { output = a }
end

describe("recurrent", function()
  describe("PyTorch reference", function()
    for _, name in ipairs(sorted_keys(ref.family("recurrent"))) do
      it(name .. ": outputs, states and every gradient", function()
        local c = ref.case("recurrent", name)
        local m = build(c)
        assert.are.same(sorted_keys(c.parameters), sorted_keys(m:state_dict()))
        local inputs = {}
        for k, v in pairs(c.inputs) do inputs[k] = ref.tensor(v):requires_grad_() end
        local outs = run_case(m, c, inputs.input, inputs.h_0, inputs.c_0)
        local want = c.outputs or { output = c.output }
        local gwant = c.grad_outputs or { output = c.grad_output }
        assert.are.same(sorted_keys(want), sorted_keys(outs))
        local loss
        for k, t in pairs(want) do
          assert.are.same(t.shape, outs[k].shape, k .. " shape")
          helpers.assert_close(outs[k], t.data, TOL, TOL)
          local term = (outs[k] * ref.tensor(gwant[k])):sum()
          loss = loss and loss + term or term
        end
        loss:backward()
        for k, g in pairs(c.grads) do
          local t = inputs[k] or m[k]
          assert.is_not_nil(t.grad, "no gradient for " .. k)
          assert.are.same(g.shape, t.grad.shape, k .. " grad shape")
          helpers.assert_close(t.grad, g.data, TOL, TOL)
        end
      end)
    end
  end)

  describe("gradcheck", function()
    setup(function() luann.manual_seed(11) end)

    local CELLS = {
      { "RNNCell", {} }, { "RNNCell", { nonlinearity = "relu" } }, { "LSTMCell", {} }, { "GRUCell", {} },
    }
    for _, e in ipairs(CELLS) do
      it(e[1] .. (e[2].nonlinearity and " relu" or "") .. ": input, state and parameters", function()
        local opts = { dtype = "float64", nonlinearity = e[2].nonlinearity }
        local m = nn[e[1]](3, 2, opts)
        local x, h, cc = f64({ 2, 3 }):requires_grad_(), f64({ 2, 2 }):requires_grad_(), f64({ 2, 2 }):requires_grad_()
        local lstm = e[1] == "LSTMCell"
        local list = { x, h, cc, m.weight_ih, m.weight_hh, m.bias_ih, m.bias_hh }
        assert.is_true(gradcheck(function(xi, hi, ci)
          if lstm then
            local s = m(xi, { hi, ci })
            return luann.cat({ s[1], s[2] }, 1)
          end
          return m(xi, hi) + 0 * ci:sum()
        end, list))
      end)
    end

    it("a batch-first LSTM and its one-layer op", function()
      local m = nn.LSTM(2, 3, { batch_first = true, dtype = "float64" })
      local x, h, cc = f64({ 2, 4, 2 }):requires_grad_(), f64({ 1, 2, 3 }):requires_grad_(), f64({ 1, 2, 3 }):requires_grad_()
      local list = { x, h, cc }
      for _, p in ipairs(m:parameters()) do list[#list + 1] = p end
      assert.is_true(gradcheck(function(xi, hi, ci)
        local out, s = m(xi, { hi, ci })
        return luann.cat({ out:reshape(-1), s[2]:reshape(-1) }, 1)
      end, list))
      -- the op itself: the flat result (every h, then c_T), both layouts and directions
      local xg, w = f64({ 2, 2, 8 }):requires_grad_(), f64({ 8, 2 }):requires_grad_()
      local h0, c0 = f64({ 2, 2 }):requires_grad_(), f64({ 2, 2 }):requires_grad_()
      for _, bf in ipairs({ false, true }) do
        for _, rev in ipairs({ false, true }) do
          assert.is_true(gradcheck(function(a, b, c, d) return luann._lstm(a, b, c, d, bf, rev) end,
            { xg, w, h0, c0 }))
        end
      end
    end)

    for _, kind in ipairs({ "LSTM", "GRU" }) do
      it("a 2-layer bidirectional " .. kind, function()
        local m = nn[kind](2, 2, { num_layers = 2, bidirectional = true, dtype = "float64" })
        local x, h = f64({ 3, 2, 2 }):requires_grad_(), f64({ 4, 2, 2 }):requires_grad_()
        local cc = f64({ 4, 2, 2 }):requires_grad_()
        local list = { x, h, cc }
        for _, p in ipairs(m:parameters()) do list[#list + 1] = p end
        assert.is_true(gradcheck(function(xi, hi, ci)
          if kind == "LSTM" then
            local out, s = m(xi, { hi, ci })
            return luann.cat({ out:reshape(-1), s[1]:reshape(-1), s[2]:reshape(-1) }, 1)
          end
          local out, hn = m(xi, hi)
          return luann.cat({ out:reshape(-1), hn:reshape(-1) }, 1) + 0 * ci:sum()
        end, list))
      end)
    end
  end)

  describe("shapes", function()
    it("take batch_first, unbatched input and missing states like PyTorch", function()
      luann.manual_seed(3)
      local m = nn.GRU(3, 4, { num_layers = 2, bidirectional = true, dtype = "float64" })
      local x = f64({ 5, 2, 3 })
      local out, hn = m(x)
      assert.are.same({ 5, 2, 8 }, out.shape)
      assert.are.same({ 4, 2, 4 }, hn.shape)
      -- the unbatched call is the batched one with a batch of one
      local u, uh = m(x:select(2, 2), hn:select(2, 1))
      local b, bh = m(x:narrow(2, 2, 1), hn:narrow(2, 1, 1))
      assert.are.same({ 5, 8 }, u.shape)
      assert.are.same({ 4, 4 }, uh.shape)
      helpers.assert_close(u, helpers.values(b), 0, 0)
      helpers.assert_close(uh, helpers.values(bh), 0, 0)
      -- batch_first is a transpose of the same computation
      local bf = nn.GRU(3, 4, { num_layers = 2, bidirectional = true, batch_first = true, dtype = "float64" })
      bf:load_state_dict(m:state_dict())
      local o2, h2 = bf(x:transpose(1, 2))
      helpers.assert_close(o2:transpose(1, 2), helpers.values(out), 0, 0)
      helpers.assert_close(h2, helpers.values(hn), 0, 0)
      local lstm = nn.LSTM(3, 4, { dtype = "float64" })
      local lo, ls = lstm(x:select(2, 1))
      assert.are.same({ 5, 4 }, lo.shape)
      assert.are.same({ 1, 4 }, ls[1].shape)
      assert.are.same({ 1, 4 }, ls[2].shape)
      local cell = nn.LSTMCell(3, 4, { dtype = "float64" })
      local s = cell(x:select(1, 1):select(1, 1))
      assert.are.same({ 4 }, s[1].shape)
    end)

    it("match a loop over the cell on a long sequence, gradients included", function()
      luann.manual_seed(9)
      local m = nn.LSTM(2, 3, { dtype = "float64" })
      local cell = nn.LSTMCell(2, 3, { dtype = "float64" })
      local sd = {}
      for k, v in pairs(m:state_dict()) do sd[k:gsub("_l0$", "")] = v end
      cell:load_state_dict(sd)
      local x = f64({ 37, 2, 2 })
      local x1, x2 = x:clone():requires_grad_(), x:clone():requires_grad_()
      local out = m(x1)
      local s, hs = nil, {}
      for t = 1, 37 do
        s = cell(x2:select(1, t), s)
        hs[t] = s[1]
      end
      local loop = luann.stack(hs, 1)
      helpers.assert_close(out, helpers.values(loop), 1e-12, 1e-12)
      local w = f64({ 37, 2, 3 })
      ;(out * w):sum():backward()
      ;(loop * w):sum():backward()
      helpers.assert_close(x1.grad, helpers.values(x2.grad), 1e-12, 1e-12)
    end)

    -- nn.LSTM runs each layer as one op (core/op_lstm.c: a GEMM and a cell
    -- kernel per step, vectorised sigmoid and tanh in float32); here it is
    -- checked against the LSTM equations written out with luann's ops.
    it("match the LSTM equations in float32, gradients included", function()
      luann.manual_seed(12)
      for _, o in ipairs({ { batch_first = true }, { bidirectional = true }, { num_layers = 2 } }) do
        local m = nn.LSTM(5, 20, o) -- 20 units: a whole and a part vector of 16 floats
        local B, T = 3, 6
        local x = luann.randn(o.batch_first and B or T, o.batch_first and T or B, 5):requires_grad_()
        local dirs, layers = o.bidirectional and 2 or 1, o.num_layers or 1
        local h0 = luann.randn(dirs * layers, B, 20):requires_grad_()
        local c0 = luann.randn(dirs * layers, B, 20):requires_grad_()
        local out, st = m(x, { h0, c0 })
        local w1, w2, w3 = luann.randn(out.shape), luann.randn(st[1].shape), luann.randn(st[2].shape)
        ;((out * w1):sum() + (st[1] * w2):sum() + (st[2] * w3):sum()):backward()
        local fused = { x.grad, h0.grad, c0.grad }
        for _, p in ipairs(m:parameters()) do fused[#fused + 1] = p.grad; p.grad = nil end
        x.grad, h0.grad, c0.grad = nil, nil, nil
        -- the same network by hand, time first
        local input = o.batch_first and x:transpose(1, 2) or x
        local hn, cn = {}, {}
        for l = 1, layers do
          local outs = {}
          for d = 1, dirs do
            local k = (l - 1) * dirs + d
            local sfx = "_l" .. (l - 1) .. (d == 2 and "_reverse" or "")
            local wih, whh = m["weight_ih" .. sfx], m["weight_hh" .. sfx]
            local bih, bhh = m["bias_ih" .. sfx], m["bias_hh" .. sfx]
            local h, c, hs = h0[k], c0[k], {}
            for step = 1, T do
              local t = d == 2 and T + 1 - step or step
              local gates = F.linear(input[t], wih, bih) + F.linear(h, whh, bhh)
              local i, f = gates:narrow(2, 1, 20):sigmoid(), gates:narrow(2, 21, 20):sigmoid()
              local g, og = gates:narrow(2, 41, 20):tanh(), gates:narrow(2, 61, 20):sigmoid()
              c = f * c + i * g
              h = og * c:tanh()
              hs[t] = h
            end
            outs[d], hn[k], cn[k] = luann.stack(hs, 1), h, c
          end
          input = dirs == 2 and luann.cat(outs, 3) or outs[1]
        end
        local want = o.batch_first and input:transpose(1, 2) or input
        local wh, wc = luann.stack(hn, 1), luann.stack(cn, 1)
        assert.is_true(luann.allclose(out, want, 1e-5, 1e-5))
        assert.is_true(luann.allclose(st[1], wh, 1e-5, 1e-5))
        assert.is_true(luann.allclose(st[2], wc, 1e-5, 1e-5))
        ;((want * w1):sum() + (wh * w2):sum() + (wc * w3):sum()):backward()
        local grads = { x.grad, h0.grad, c0.grad }
        for _, p in ipairs(m:parameters()) do grads[#grads + 1] = p.grad end
        for i, g in ipairs(grads) do
          assert.is_true(luann.allclose(fused[i], g, 1e-4, 1e-5), "gradient " .. i)
        end
      end
    end)

    it("apply dropout between layers only while training", function()
      luann.manual_seed(5)
      local m = nn.LSTM(3, 4, { num_layers = 2, dropout = 0.5, dtype = "float64" })
      local x = f64({ 4, 2, 3 })
      m:eval()
      local a = m(x)
      local b = m(x)
      helpers.assert_close(a, helpers.values(b), 0, 0)
      m:train()
      local c = m(x)
      assert.is_false(luann.allclose(a, c, 0, 1e-12))
      -- one layer: nothing to drop between
      local one = nn.GRU(3, 4, { dropout = 0.5, dtype = "float64" })
      local d = one(x)
      helpers.assert_close(one(x), helpers.values(d), 0, 0)
    end)

    it("run without biases", function()
      local m = nn.RNN(3, 2, { bias = false, num_layers = 2 })
      local names = sorted_keys(m:state_dict())
      assert.are.same({ "weight_hh_l0", "weight_hh_l1", "weight_ih_l0", "weight_ih_l1" }, names)
      local out = m(luann.randn(4, 1, 3))
      assert.are.same({ 4, 1, 2 }, out.shape)
    end)

    it("initialise every parameter in +-1/sqrt(hidden_size)", function()
      local m = nn.LSTM(5, 4, { num_layers = 2, bidirectional = true })
      for name, p in m:named_parameters() do
        local v = helpers.values(p)
        local lo, hi = math.huge, -math.huge
        for _, x in ipairs(v) do lo, hi = math.min(lo, x), math.max(hi, x) end
        assert(lo >= -0.5 and hi <= 0.5 and hi - lo > 0.2, name)
      end
    end)
  end)

  describe("functional", function()
    it("F.*_cell start from zeros without a state, like the modules", function()
      luann.manual_seed(6)
      local x = f64({ 2, 3 })
      for _, kind in ipairs({ "RNNCell", "LSTMCell", "GRUCell" }) do
        local m = nn[kind](3, 4, { dtype = "float64" })
        local fname = ({ RNNCell = "rnn_tanh_cell", LSTMCell = "lstm_cell", GRUCell = "gru_cell" })[kind]
        local got = F[fname](x, nil, m.weight_ih, m.weight_hh, m.bias_ih, m.bias_hh)
        local z = luann.zeros(2, 4, { dtype = "float64" })
        local want = m(x, kind == "LSTMCell" and { z, z } or z)
        if kind == "LSTMCell" then
          helpers.assert_close(got[2], helpers.values(want[2]), 0, 0)
          got, want = got[1], want[1]
        end
        helpers.assert_close(got, helpers.values(want), 0, 0)
      end
    end)

    it("F.recurrent names an unknown mode", function()
      assert.has.error(function() F.recurrent("lstn", luann.randn(2, 1, 3), nil, {}) end,
        "F.recurrent: unknown mode 'lstn'")
    end)
  end)

  describe("state_dict", function()
    it("uses PyTorch's names and layouts", function()
      local m = nn.LSTM(3, 5, { num_layers = 2, bidirectional = true })
      local names = {}
      for name in m:named_parameters() do names[#names + 1] = name end
      local want = {}
      for _, l in ipairs({ "_l0", "_l1" }) do
        for _, d in ipairs({ "", "_reverse" }) do
          for _, w in ipairs({ "weight_ih", "weight_hh", "bias_ih", "bias_hh" }) do
            want[#want + 1] = w .. l .. d
          end
        end
      end
      assert.are.same(want, names)
      assert.are.same({ 20, 3 }, m.weight_ih_l0.shape)
      assert.are.same({ 20, 10 }, m.weight_ih_l1_reverse.shape)
      assert.are.same({ 20, 5 }, m.weight_hh_l1.shape)
      assert.are.same({ 20 }, m.bias_hh_l0_reverse.shape)
      assert.are.same({ 15, 10 }, nn.GRU(3, 5, { num_layers = 2, bidirectional = true }).weight_ih_l1.shape)
      local cell = nn.GRUCell(3, 5)
      assert.are.same({ "bias_hh", "bias_ih", "weight_hh", "weight_ih" }, sorted_keys(cell:state_dict()))
      assert.are.same({ 15, 3 }, cell.weight_ih.shape)
      assert.are.same({ 4, 3 }, nn.RNNCell(3, 4).weight_ih.shape)
      assert.are.same({ 16, 4 }, nn.LSTMCell(3, 4).weight_hh.shape)
    end)
  end)

  describe("errors", function()
    it("name the module and the shapes", function()
      local x = luann.randn(5, 2, 3)
      assert.has.error(function() nn.LSTM(4, 2)(x) end,
        "nn.LSTM: input (5,2,3) has 3 features, expected input_size 4")
      assert.has.error(function() nn.GRU(3, 2, { num_layers = 2 })(x, luann.zeros(1, 2, 2)) end,
        "nn.GRU: h0 must have shape (2,2,2) for input (5,2,3), got (1,2,2)")
      assert.has.error(function() nn.LSTM(3, 2)(x, { luann.zeros(1, 2, 2), luann.zeros(1, 3, 2) }) end,
        "nn.LSTM: c0 must have shape (1,2,2) for input (5,2,3), got (1,3,2)")
      assert.has.error(function() nn.RNN(3, 2, { bidirectional = true })(x, luann.zeros(1, 2, 2)) end,
        "nn.RNN: h0 must have shape (2,2,2) for input (5,2,3), got (1,2,2)")
      assert.has.error(function() nn.RNN(3, 2)(luann.randn(3)) end,
        "nn.RNN: expected input of 2 (unbatched) or 3 dims, got shape (3)")
      assert.has.error(function() nn.GRU(3, 2, { batch_first = true })(luann.randn(2, 0, 3)) end,
        "nn.GRU: input (2,0,3) has no timesteps")
      assert.has.error(function() nn.LSTM(3, 2)(x, luann.zeros(1, 2, 2)) end,
        "nn.LSTM: bad argument #2 'hx' ({h0, c0} expected, got tensor)")
      assert.has.error(function() nn.GRUCell(4, 2)(luann.randn(2, 3)) end,
        "nn.GRUCell: input (2,3) has 3 features, expected input_size 4")
      assert.has.error(function() nn.RNNCell(3, 2)(luann.randn(2, 3), luann.zeros(3, 2)) end,
        "nn.RNNCell: h0 must have shape (2,2) for input (2,3), got (3,2)")
      assert.has.error(function() nn.LSTMCell(3, 2)(luann.randn(2, 3), { luann.zeros(2, 2), luann.zeros(2) }) end,
        "nn.LSTMCell: c0 must have shape (2,2) for input (2,3), got (2)")
    end)

    it("point at the caller's line", function()
      local x, m, cell = luann.randn(5, 2, 3), nn.LSTM(3, 2), nn.GRUCell(3, 2)
      local ok, err = pcall(function() local y = m(x, { luann.zeros(1, 3, 2) }) return y end)
      assert.is_false(ok)
      assert.matches("^spec/recurrent_spec.lua:%d+: nn.LSTM: h0 must have shape", err)
      ok, err = pcall(function() local y = cell(luann.randn(2, 3), luann.zeros(3, 2)) return y end)
      assert.matches("^spec/recurrent_spec.lua:%d+: nn.GRUCell: h0 must have shape", err)
      ok, err = pcall(function() local y = m(luann.randn(5, 2, 4)) return y end)
      assert.matches("^spec/recurrent_spec.lua:%d+: nn.LSTM: input %(5,2,4%) has 4 features", err)
      ok, err = pcall(function() local c = nn.RNNCell(3, 2, { nonlinearity = "gelu" }) return c end)
      assert.matches("^spec/recurrent_spec.lua:%d+: nn.RNNCell: bad argument #3 'nonlinearity'", err)
    end)

    it("check the constructor's options", function()
      assert.has.error(function() nn.RNN(3, 2, { nonlinearity = "gelu" }) end,
        'nn.RNN: bad argument #3 \'nonlinearity\' (expected one of "tanh", "relu", got "gelu")')
      assert.has.error(function() nn.LSTM(3, 2, { nonlinearity = "relu" }) end,
        "nn.LSTM: unknown option 'nonlinearity' (nn.RNN only)")
      assert.has.error(function() nn.GRU(3, 2, { layers = 2 }) end,
        "nn.GRU: unknown option 'layers' (known: batch_first, bias, bidirectional, device, dropout, "
          .. "dtype, nonlinearity, num_layers)")
      assert.has.error(function() nn.LSTM(2, 3, 1 << 62) end,
        "nn.LSTM: bad argument #3 'num_layers' (must be <= 1024, got 4611686018427387904)")
      assert.has.error(function() nn.GRU(3, 0) end,
        "nn.GRU: bad argument #2 'hidden_size' (must be >= 1, got 0)")
      assert.has.error(function() nn.LSTM(3, 2, { dropout = 2 }) end,
        "nn.LSTM: bad argument #3 'dropout' (2 out of range [0, 1])")
    end)
  end)

  describe("training", function()
    -- Predict the running sum of a 1-D sequence, scaled: an LSTM and a GRU
    -- each bring the loss down with a few Adam steps.
    for _, kind in ipairs({ "LSTM", "GRU", "RNN" }) do
      it(kind .. " learns a running sum", function()
        luann.manual_seed(1)
        local rnn = nn[kind](1, 8, { batch_first = true })
        local head = nn.Linear(8, 1)
        local params = rnn:parameters()
        for _, p in ipairs(head:parameters()) do params[#params + 1] = p end
        local opt = luann.optim.Adam(params, { lr = 0.02 })
        local x = luann.randn(16, 6, 1)
        local vals = x:reshape(16, 6):tolist()
        for i = 1, 16 do
          for t = 2, 6 do vals[i][t] = vals[i][t] + vals[i][t - 1] end
        end
        local y = luann.tensor(vals):view(16, 6, 1) * 0.3
        local function loss()
          local out = rnn(x)
          return F.mse_loss(head(out), y)
        end
        local first = loss():item()
        for _ = 1, 30 do
          opt:zero_grad()
          local l = loss()
          l:backward()
          opt:step()
        end
        local last = loss():item()
        assert(last < 0.5 * first, string.format("loss %.4g -> %.4g", first, last))
      end)
    end
  end)

  describe("on OpenCL #opencl", function()
    local HAVE = cmp.HAVE
    it("finds an OpenCL device (PoCL in CI)", function()
      assert.is_true(HAVE, "no OpenCL device: install pocl-opencl-icd, or set LUANN_NO_OPENCL=1")
    end)
    if not HAVE then return end

    local CL_TOL = { rtol = 1e-4, atol = 1e-5 } -- float32 through two layers and both directions

    -- Runs the same module on the CPU and on OpenCL: outputs, final states
    -- and the gradients of a fixed random weighting of them, for the input,
    -- the initial states and every parameter.
    local function both(kind, opts, x, h0, c0)
      luann.manual_seed(21)
      local cpu = nn[kind](x:size(-1), h0:size(-1), opts)
      local dev = nn[kind](x:size(-1), h0:size(-1), opts)
      dev:load_state_dict(cpu:state_dict())
      dev:to("opencl")
      local lstm = kind == "LSTM"
      cmp.both(function(xx, hh, cc)
        local out, s = (xx.device == "cpu" and cpu or dev)(xx, lstm and { hh, cc } or hh)
        if lstm then return out, s[1], s[2] end
        return out, s
      end, lstm and { x, h0, c0 } or { x, h0 }, { grad = true, tol = CL_TOL, what = kind })
      local ps, qs = cpu:parameters(), dev:parameters()
      assert.are.equal(#ps, #qs)
      for k, p in ipairs(ps) do
        assert.is_not_nil(p.grad, kind .. " gradient of parameter " .. k)
        cmp.assert_same(p.grad, qs[k].grad, CL_TOL, kind .. " gradient of parameter " .. k)
      end
    end

    it("the one-layer LSTM op matches the CPU in both layouts and directions", function()
      luann.manual_seed(6)
      for _, bf in ipairs({ false, true }) do
        for _, rev in ipairs({ false, true }) do
          cmp.both(function(xg, w, h0, c0) return luann._lstm(xg, w, h0, c0, bf, rev) end,
            { luann.randn(3, 4, 4 * 17), luann.randn(4 * 17, 17), luann.randn(bf and 3 or 4, 17),
              luann.randn(bf and 3 or 4, 17) }, { grad = true, tol = CL_TOL, what = "lstm" })
        end
      end
    end)

    for _, kind in ipairs({ "LSTM", "GRU" }) do
      it(kind .. " forward and backward match the CPU", function()
        luann.manual_seed(4)
        both(kind, { num_layers = 2, bidirectional = true }, luann.randn(3, 2, 3), luann.randn(4, 2, 5),
          luann.randn(4, 2, 5))
        both(kind, { batch_first = true }, luann.randn(2, 4, 3), luann.randn(1, 2, 3), luann.randn(1, 2, 3))
      end)
    end
  end)
end)
