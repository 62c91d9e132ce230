-- targets.lua: what the sweep and the fuzzer call, enumerated at run time so
-- that a new op is covered without an edit here: every function of the
-- `luann` table and its sub-tables, every tensor method and metamethod, the
-- Lua library's classes (called), and a few instances (a module's forward,
-- an optimizer's step, a loader's walk).
-- Each target is {name, source}: `source` is a Lua expression for the
-- function, with the helpers of prelude.lua in scope (TM is the tensor
-- metatable), so that a call can be written out as a script.
-- usage: local targets = dofile("spec/robustness/targets.lua")(luann)
-- Functions that change process-wide state the calls after them depend on;
-- the spec checks them on their own. DistributedDataParallel starts MPI,
-- which a process may do once (and Open MPI's plugins leak under LSan):
-- spec/mpi runs it under mpirun.
local skip = {
  set_num_threads = true, set_default_device = true, set_grad_enabled = true,
  manual_seed = true, DistributedDataParallel = true,
}

local function key(k) return "[" .. ("%q"):format(k) .. "]" end

return function(luann)
  local list, seen = {}, {}
  local function add(name, src, fn)
    if fn == nil or not seen[fn] then
      if fn ~= nil then seen[fn] = true end
      list[#list + 1] = { name, src }
    end
  end
  -- Every callable of `tbl`, whose source is `tsrc`; with `call`, tables
  -- with a __call too (classes), called through a function.
  local function add_table(prefix, tsrc, tbl, call)
    local names = {}
    for k, v in pairs(tbl) do
      local callable = type(v) == "function" or (call and type(v) == "table"
        and getmetatable(v) and getmetatable(v).__call)
      if callable and type(k) == "string" and not skip[k] then names[#names + 1] = k end
    end
    table.sort(names)
    for _, k in ipairs(names) do
      local v = tbl[k]
      add(prefix .. k, type(v) == "function" and tsrc .. key(k)
        or "function(...) return " .. tsrc .. key(k) .. "(...) end", v)
    end
  end
  -- Functions written in Lua load on first use: load them all, so that the
  -- list is the same in every process (a spec that used one must not
  -- lengthen the parent's list beyond its children's).
  for k in pairs(getmetatable(luann).lazy_functions or {}) do local _ = luann[k] end
  local mt = getmetatable(luann.zeros(1))
  add_table("luann.", "luann", luann)
  add_table("Tensor:", "TM.methods", mt.methods)
  add_table("Tensor.", "TM", mt)
  add("Tensor.__concat", "function(a, b) return a .. b end")
  add("Tensor.__call", "function(a, ...) return a(...) end")
  add("Tensor.__lt", "function(a, b) return a < b end")
  add("luann.autograd.Function():apply", [[function(...)
    local F = luann.autograd.Function({
      forward = function(_, x, y) return x * 2 + (y or 0) end,
      backward = function(_, g) return g * 2, g end })
    return F:apply(...)
  end]])
  add_table("luann.opencl.", "luann.opencl", luann.opencl)
  add_table("Generator:", "getmetatable(luann.Generator(1)).__index",
    getmetatable(luann.Generator(1)).__index)
  add_table("luann.autograd.", "luann.autograd", luann.autograd)
  add_table("luann.nn.functional.", "luann.nn.functional", luann.nn.functional)
  add_table("luann.nn.init.", "luann.nn.init", luann.nn.init)
  add_table("luann.nn.utils.", "luann.nn.utils", luann.nn.utils)
  add_table("luann.nn.", "luann.nn", luann.nn, true)
  add_table("luann.optim.", "luann.optim", luann.optim, true)
  add_table("luann.optim.lr_scheduler.", "luann.optim.lr_scheduler", luann.optim.lr_scheduler, true)
  add_table("luann.data.", "luann.data", luann.data, true)
  add_table("luann.data.datasets.", "luann.data.datasets", luann.data.datasets, true)
  add_table("luann.data.transforms.", "luann.data.transforms", luann.data.transforms, true)
  add_table("luann.distributions.", "luann.distributions", luann.distributions, true)
  add_table("luann.utils.check.", "luann.utils.check", luann.utils.check)
  add_table("luann.image.", "luann.image", luann.image)
  add_table("luann.plot.", "luann.plot", luann.plot)
  add("luann.utils.Logger", "function(...) return luann.utils.Logger(...) end")
  add("luann.utils.Logger():add", [[function(...)
    local log = luann.utils.Logger("robust.csv", { "a", "b" }, { append = false })
    log:add(...)
    return log:columns()
  end]])
  add("luann.utils.Logger():plot", [[function(...)
    local log = luann.utils.Logger("robust.csv", { "a", "b" }, { append = false })
    log:add({ 1, 2 })
    log:add({ b = 0 / 0 })
    return log:plot(...)
  end]])
  -- Instances: a module's forward, an optimizer's step with bad gradients,
  -- a loader walked over a bad dataset.
  for _, cls in ipairs { "Linear", "ReLU", "Softmax", "LogSoftmax", "Dropout",
    "Flatten", "CrossEntropyLoss", "MSELoss", "NLLLoss", "BCELoss", "L1Loss" } do
    add("luann.nn." .. cls .. "(3,4)()", ([[function(...)
      local ok, m = pcall(luann.nn.%s, 3, 4)
      if not ok then m = luann.nn.%s() end
      return m(...)
    end]]):format(cls, cls))
  end
  for _, cls in ipairs { "SGD", "Adam", "AdamW", "RMSprop", "Adagrad" } do
    add("luann.optim." .. cls .. ":step with p.grad = ...", ([[function(g, ...)
      local p = luann.randn(2, 3, { requires_grad = true })
      local opt = luann.optim.%s({ p }, { lr = 0.1 })
      p.grad = g
      opt:step(...)
      opt:step(...)
      return opt:zero_grad(...)
    end]]):format(cls))
  end
  add("luann.load(damaged checkpoint)", "luann.load")
  list[#list].files = "checkpoint"
  add("luann.read_idx(damaged IDX file)", "luann.read_idx")
  list[#list].files = "idx"
  add("luann.image.load(damaged PNG file)", "luann.image.load")
  list[#list].files = "png"
  add("luann.safetensors.load(damaged safetensors file)", "luann.safetensors.load")
  list[#list].files = "safetensors"
  add("luann.numpy.load(damaged .npy file)", "luann.numpy.load")
  list[#list].files = "npy"
  -- (the first 100 batches: a dataset of 2^40 empty samples is valid, and
  -- an epoch of it as long as it says)
  add("for _ in luann.data.DataLoader(...)", [[function(...)
    local n = 0
    for _ in luann.data.DataLoader(...) do
      n = n + 1
      if n == 100 then break end
    end
  end]])
  add("for _ in DataLoader(TensorDataset(...))", [[function(...)
    local n = 0
    for _ in luann.data.DataLoader(luann.data.TensorDataset(...), { batch_size = 2 }) do
      n = n + 1
      if n == 100 then break end
    end
  end]])
  return list
end
