-- spec/support/cpu_kernels_battery.lua: the CPU loop kernels on fixed
-- inputs, for spec/cpu_isa_spec.lua, which runs it once per instruction
-- set (LUANN_CPU_ISA) and compares the results.
--   luann cpu_kernels_battery.lua OUT.ckpt
local out_path = assert(arg[1], "usage: cpu_kernels_battery.lua OUT")
local r = { isa = luann.cpu.isa() }

-- sizes around every vector width's multiples, so loops' remainders run
local sizes = { 1, 7, 16, 33, 1000, 70000 }
for _, dt in ipairs({ "float32", "float64" }) do
  for _, n in ipairs(sizes) do
    local k = dt .. "_" .. n .. "_"
    local x = luann.linspace(-3, 3, n, { dtype = dt })
    local pos = luann.linspace(0.1, 5, n, { dtype = dt })
    local y = luann.linspace(2, -1, n, { dtype = dt })
    for _, f in ipairs({ "exp", "tanh", "sigmoid", "relu", "neg", "abs", "floor", "gelu",
      "silu", "square" }) do
      r[k .. f] = luann[f](x)
    end
    for _, f in ipairs({ "log", "sqrt", "reciprocal", "rsqrt" }) do r[k .. f] = luann[f](pos) end
    for _, f in ipairs({ "add", "sub", "mul", "div", "maximum", "minimum" }) do
      r[k .. f] = luann[f](x, pos)
    end
    r[k .. "gt"] = x:gt(y)
    r[k .. "pow"] = luann.pow(pos, y)
    r[k .. "clamp"] = x:clamp(-1, 2)
    r[k .. "leaky"] = luann.nn.functional.leaky_relu(x, 0.1)
    r[k .. "where"] = luann.where(x:gt(0), x, y)
    r[k .. "sum"] = x:sum()
    r[k .. "max"] = x:max()
    r[k .. "argmax"] = y:argmax()
    r[k .. "softmax"] = luann.softmax(x, 1)
    r[k .. "log_softmax"] = luann.log_softmax(x, 1)
    r[k .. "to_other"] = x:to(dt == "float32" and "float64" or "float32")
    local p, g = x:clone(), y:clone()
    local opt = luann.optim.SGD({ p }, { lr = 0.1, momentum = 0.9 })
    for _ = 1, 3 do p.grad = g:clone(); opt:step() end
    r[k .. "sgd"] = p
    local q = x:clone()
    local adam = luann.optim.Adam({ q }, { lr = 0.01 })
    for _ = 1, 3 do q.grad = g:clone(); adam:step() end
    r[k .. "adam"] = q
  end
end
-- strided and broadcast operands, byte images, fills
local m = luann.arange(0, 35 * 33, { dtype = "float32" }):view(35, 33)
r.transposed_add = m:t() + m:t():contiguous()
r.broadcast_mul = m * luann.linspace(-1, 1, 33)
r.row_sum = m:sum(2)
r.col_sum = m:sum(1)
r.bytes = luann.arange(0, 1000):fmod(256):to("uint8"):float()
r.fill = luann.full({ 37, 3 }, 2.5)
luann.save(out_path, r)
