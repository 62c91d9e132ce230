-- safetensors_spec.lua: luann.safetensors against PyTorch (Debian's
-- python3-torch; spec/support/torch_exchange.py writes and reads the format
-- with json and the tensors' bytes), the numbering of keys, luann.save and
-- luann.load by extension, and hostile files.
local luann = require "luann"
local helpers = require "helpers"
local nn = luann.nn

local tmp, remove_all = helpers.temp_paths(".safetensors")
local err_of, read_file, write_file = helpers.err_of, helpers.read_file, helpers.write_file

local function python(...) return helpers.python("torch_exchange.py", ...) end

local function temp_dir()
  local p = assert(io.popen("mktemp -d"))
  local d = p:read("l")
  p:close()
  return d
end

-- The models of torch_exchange.py, in luann: the same names, so the same keys.
local function mlp(dtype)
  return nn.Sequential(nn.Linear(5, 7, { dtype = dtype }), nn.Tanh(), nn.Linear(7, 3, { dtype = dtype }))
end

local CNN = nn.Module:extend("CNN")
function CNN:__init(dtype)
  local o = { dtype = dtype }
  self.features = nn.Sequential(nn.Conv2d(1, 4, 3, { padding = 1, dtype = dtype }),
    nn.BatchNorm2d(4, o), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, o))
  self.fc = nn.Linear(6 * 2 * 2, 3, o)
end
function CNN:forward(x)
  return self.fc(luann.relu(self.features(x)):flatten(2))
end

local function models(dtype)
  return { mlp = mlp(dtype):eval(), cnn = CNN(dtype):eval() }
end

-- The largest difference between a and b, absolute and relative to |b|.
local function max_diff(a, b)
  assert.same(b.shape, a.shape)
  local x, y = helpers.values(a:double()), helpers.values(b:double())
  local abs, rel = 0, 0
  for i = 1, #x do
    local d = math.abs(x[i] - y[i])
    abs = math.max(abs, d)
    rel = math.max(rel, d / math.max(math.abs(y[i]), 1e-30))
  end
  return abs, rel
end

local function check_close(dtype, got, want)
  local abs, rel = max_diff(got, want)
  if dtype == "float64" then
    assert.is_true(abs <= 1e-12, ("max abs difference %g"):format(abs))
  else
    assert.is_true(rel <= 1e-5, ("max relative difference %g"):format(rel))
  end
end

describe("luann.safetensors", function()
  teardown(remove_all)

  for _, dtype in ipairs { "float64", "float32" } do
    describe("with PyTorch, in " .. dtype, function()
      local dir = temp_dir()
      teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

      it("loads PyTorch's MLP and CNN and gives its logits", function()
        python("write", dir, dtype)
        for name, model in pairs(models(dtype)) do
          local sd, meta = luann.safetensors.load(dir .. "/" .. name .. ".safetensors")
          assert.equal("pt", meta.format)
          -- PyTorch's "0.weight" is luann's "1.weight"; named children keep their names
          if name == "mlp" then
            assert.same({ "1.bias", "1.weight", "3.bias", "3.weight" }, helpers.sorted_keys(sd))
          else
            assert.is_not_nil(sd["features.2.running_var"])
            assert.is_not_nil(sd["features.5.weight"])
            assert.equal("int64", sd["features.2.num_batches_tracked"].dtype)
          end
          local r = model:load_state_dict(sd)
          assert.same({}, r.missing_keys)
          assert.same({}, r.unexpected_keys)
          local x = luann.load(dir .. "/" .. name .. "_x.npy")
          assert.equal(dtype, x.dtype)
          local want = luann.load(dir .. "/" .. name .. "_y.npy")
          local got = luann.no_grad(function() return model(x) end)()
          check_close(dtype, got, want)
        end
      end)

      it("saves state dicts PyTorch loads strictly and runs to the same logits", function()
        luann.manual_seed(42)
        local ms = models(dtype)
        ms.cnn.features[2].running_mean:uniform_(-1, 1)
        ms.cnn.features[2].running_var:uniform_(0.5, 2)
        local xs = { mlp = luann.randn(3, 5, { dtype = dtype }), cnn = luann.randn(2, 1, 8, 8, { dtype = dtype }) }
        for name, model in pairs(ms) do
          luann.save(dir .. "/" .. name .. ".safetensors", model:state_dict(), { format = "pt" })
          luann.save(dir .. "/" .. name .. "_x.npy", xs[name])
        end
        assert.equal("ok\n", python("read", dir, dtype))
        for name, model in pairs(ms) do
          local want = luann.load(dir .. "/" .. name .. "_y.npy")
          local got = luann.no_grad(function() return model(xs[name]) end)()
          check_close(dtype, got, want)
        end
      end)
    end)
  end

  it("makes layers whose state_dict keys and shapes are PyTorch's", function()
    local want = {}
    for line in python("layouts"):gmatch("[^\n]+") do
      local model, key, shape = line:match("^(%S+) (%S+) (%S+)$")
      want[model] = want[model] or {}
      want[model][#want[model] + 1] = key .. " " .. shape
    end
    local ms = {
      lstm = nn.LSTM(3, 4, { num_layers = 2, bidirectional = true }),
      gru = nn.GRU(3, 5),
      rnncell = nn.LSTMCell(3, 4),
      mha = nn.MultiheadAttention(8, 2),
      encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, { dim_feedforward = 16 }), 2),
      decoder = nn.TransformerDecoderLayer(8, 2, { dim_feedforward = 16 }),
      misc = nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4), nn.GroupNorm(2, 4),
        nn.ConvTranspose2d(4, 3, 2), nn.PReLU(), nn.BatchNorm1d(3), nn.Conv1d(3, 2, 3),
        nn.Conv2d(2, 6, 3, { groups = 2 })),
    }
    for name, m in pairs(ms) do
      local got = {}
      for k, t in pairs(luann.numbering.to_pytorch(m:state_dict())) do
        local dims = {}
        for i, d in ipairs(t.shape) do dims[i] = tostring(d) end
        got[#got + 1] = k .. " " .. (#dims > 0 and table.concat(dims, "x") or "scalar")
      end
      table.sort(got)
      table.sort(want[name])
      assert.same(want[name], got, name)
    end
  end)

  describe("dtypes", function()
    it("loads each dtype PyTorch and numpy write, converting the narrow ones", function()
      local p = tmp()
      python("dtypes", p)
      local t, meta = luann.safetensors.load(p)
      assert.same({ source = "torch_exchange.py" }, meta)
      local function check(name, dtype, shape, values)
        assert.equal(dtype, t[name].dtype, name)
        assert.same(shape, t[name].shape, name)
        assert.same(values, helpers.values(t[name]), name)
      end
      check("f64", "float64", { 3 }, { 0.1, -2.5, 1e300 })
      local function f32(x) return (string.unpack("<f", string.pack("<f", x))) end
      check("f32", "float32", { 3 }, { f32(0.1), -2.5, f32(3e38) })
      -- float16 0.1 is 0x2E66; 6e-8 rounds to the smallest subnormal, 2^-24
      check("f16", "float32", { 5 }, { 0.0999755859375, -2.5, 65504, 2 ^ -24, math.huge })
      -- bfloat16 0.1 is 0x3DCD, 3e38 is 0x7F62
      check("bf16", "float32", { 4 }, { 0.10009765625, -2.5, 0x1.c4p127, -math.huge })
      check("i64", "int64", { 3 }, { -(1 << 62), -1, 1 << 62 })
      check("i32", "int64", { 3 }, { -(1 << 31), -1, (1 << 31) - 1 })
      check("i16", "int64", { 3 }, { -32768, -1, 32767 })
      check("i8", "int64", { 2, 3 }, { -3, -1, 0, 1, 2, -128 })
      check("u8", "uint8", { 3 }, { 0, 1, 255 })
      check("u16", "int64", { 3 }, { 0, 1, 65535 })
      check("u32", "int64", { 3 }, { 0, 1, 4294967295 })
      check("bool", "bool", { 3 }, { true, false, true })
      check("empty", "float32", { 0, 3 }, {})
      check("scalar", "float64", {}, { 4.5 })
    end)

    it("saves luann's dtypes and reads them back bit for bit", function()
      local p = tmp()
      local sd = {
        a = luann.tensor({ { 1.5, -0.0 }, { math.huge, 1e-45 } }),
        b = luann.tensor({ 1e300, -1e-300 }, { dtype = "float64" }),
        c = luann.tensor({ math.mininteger, math.maxinteger, 0 }, { dtype = "int64" }),
        d = luann.tensor({ 0, 255 }, { dtype = "uint8" }),
        e = luann.tensor({ true, false }, { dtype = "bool" }),
        f = luann.zeros(0, 2),
        g = luann.tensor(3.25),
        h = luann.arange(12):view(3, 4):t(), -- not contiguous
      }
      luann.safetensors.save(p, sd, { note = "x" })
      local back, meta = luann.safetensors.load(p)
      assert.same({ note = "x" }, meta)
      assert.same(helpers.sorted_keys(sd), helpers.sorted_keys(back))
      for k, v in pairs(sd) do
        assert.equal(v.dtype, back[k].dtype, k)
        assert.same(v.shape, back[k].shape, k)
        assert.same(helpers.values(v), helpers.values(back[k]), k)
      end
      -- the data is aligned: 8-byte dtypes first, then 1-byte ones
      local n = string.unpack("<I8", read_file(p))
      assert.equal(0, n % 8)
    end)

    it("refuses a dtype luann cannot hold, naming it and the tensor", function()
      local p = tmp()
      local header = '{"big":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}'
      write_file(p, string.pack("<I8", #header) .. header .. string.rep("\0", 8))
      assert.equal("safetensors.load: " .. p .. ": tensor 'big' has dtype U64, which luann "
        .. "cannot load (it loads F64, F32, F16, BF16, I64, I32, I16, I8, U32, U16, U8 and BOOL)",
        err_of(luann.safetensors.load, p))
    end)
  end)

  describe("numbering", function()
    it("shifts only files marked format = pt, and save shifts back", function()
      local p = tmp()
      local sd = { ["1.weight"] = luann.ones(2), ["layers.3.bias"] = luann.zeros(1), fc = luann.ones(1) }
      luann.safetensors.save(p, sd, { format = "pt" })
      local raw = luann.safetensors.load(p, { numbering = "luann" })
      assert.same({ "0.weight", "fc", "layers.2.bias" }, helpers.sorted_keys(raw))
      assert.same({ "1.weight", "fc", "layers.3.bias" }, helpers.sorted_keys(luann.safetensors.load(p)))
      luann.safetensors.save(p, sd)
      assert.same({ "1.weight", "fc", "layers.3.bias" }, helpers.sorted_keys(luann.safetensors.load(p)))
      assert.same({ "2.weight", "fc", "layers.4.bias" },
        helpers.sorted_keys(luann.safetensors.load(p, { numbering = "pytorch" })))
    end)

    it("load_state_dict takes PyTorch's numbering from any table", function()
      local m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
      local sd = { ["0.weight"] = luann.ones(3, 2), ["0.bias"] = luann.zeros(3),
        ["2.weight"] = luann.full({ 1, 3 }, 2), ["2.bias"] = luann.zeros(1) }
      m:load_state_dict(sd, { numbering = "pytorch" })
      assert.same({ 2, 2, 2 }, helpers.values(m[3].weight:view(-1)))
      assert.matches('Missing key%(s%) in state_dict: "1.weight"', err_of(m.load_state_dict, m, sd))
      assert.equal(4, #m:load_state_dict(sd, { strict = false }).unexpected_keys)
    end)

    it("names the key and both shapes when they disagree", function()
      local m = nn.Sequential(nn.Linear(2, 3))
      local sd = { ["0.weight"] = luann.ones(4, 2), ["0.bias"] = luann.zeros(3) }
      assert.equal("Error(s) in loading state_dict for Sequential:\n\tsize mismatch for 1.weight: "
        .. "copying a param with shape (4,2) from checkpoint, the shape in current model is (3,2).",
        err_of(m.load_state_dict, m, sd, { numbering = "pytorch" }))
    end)

    it("refuses a key component 0 when saving in PyTorch's numbering", function()
      assert.matches("key '0.w' has the component 0",
        err_of(luann.safetensors.save, tmp(), { ["0.w"] = luann.ones(1) }, { format = "pt" }))
    end)
  end)

  describe("luann.save and luann.load", function()
    it("choose the format by extension and keep luann's own as the default", function()
      local sd = { w = luann.ones(2, 2) }
      local p = tmp(".bin")
      luann.save(p, sd)
      assert.equal("LUANNCKP", read_file(p):sub(1, 8))
      assert.same({ 1, 1, 1, 1 }, helpers.values(luann.load(p).w))
      p = tmp(".safetensors")
      luann.save(p, sd)
      assert.equal("{", read_file(p):sub(9, 9))
      assert.same({ 2, 2 }, luann.load(p).w.shape)
      assert.equal(1, select("#", luann.load(p)))
      local m = nn.Linear(2, 2)
      luann.save(p, m:state_dict(), { format = "pt", note = "metadata is not options" })
      m:load_state_dict(luann.load(p))
      assert.equal("save: luann reads .npz archives but does not write them; save a table of "
        .. "tensors as .safetensors, or each tensor as .npy", err_of(luann.save, tmp(".npz"), sd))
    end)

    it("refuse a whole Module, saying to save state_dict()", function()
      local m = nn.Linear(2, 2)
      assert.equal("save: cannot save a Module; save its state_dict() instead: "
        .. "luann.save(path, model:state_dict())", err_of(luann.save, tmp(".bin"), m))
      assert.equal("save: cannot save a Module; save its state_dict() instead: "
        .. "luann.save(path, model:state_dict()) (at model)", err_of(luann.save, tmp(".bin"), { model = m }))
      assert.matches("cannot save a Module; save its state_dict%(%) instead",
        err_of(luann.save, tmp(".safetensors"), m))
    end)

    it("say how to convert a PyTorch pickle file", function()
      local p = tmp(".pt")
      write_file(p, "\x80\x02}q\0.")
      local msg = err_of(luann.load, p)
      assert.matches("^load: " .. p:gsub("%p", "%%%0") .. " is a PyTorch pickle file", msg)
      assert.matches("save the state dict as safetensors", msg, 1, true)
      -- PyTorch's zip format too, whatever the name
      local bin = tmp(".bin")
      write_file(bin, "PK\3\4archive/data.pkl")
      assert.matches("is a PyTorch pickle file", err_of(luann.load, bin), 1, true)
      -- a checkpoint of luann's own loads whatever its name
      luann.save(p, { a = 1 })
      assert.same({ a = 1 }, luann.load(p))
    end)
  end)

  describe("examples/pytorch_mlp.lua", function()
    it("evaluates the MLP examples/export_mlp.py trained, as PyTorch did", function()
      local p = tmp()
      local out = helpers.python("examples/export_mlp.py", "--limit 3000 --out", p)
      local torch_right = out:match("PyTorch: (%d+)/10000")
      assert.is_not_nil(torch_right, out)
      local h = assert(io.popen((os.getenv("LUANN_BUILD") or "build") .. "/luann examples/pytorch_mlp.lua " .. p .. " 2>&1"))
      out = h:read("a")
      assert(h:close(), out)
      assert.equal(torch_right, out:match("luann: +(%d+)/10000"), out)
    end)
  end)

  describe("memory mapping", function()
    it("wraps a large tensor without copying it; writes never reach the file", function()
      local p = tmp()
      local n = 4 << 20 -- 16 MiB of float32
      luann.safetensors.save(p, { big = luann.arange(n, { dtype = "float32" }), small = luann.ones(3) })
      local before_file = read_file(p)
      collectgarbage()
      local before = luann.memory_allocated()
      local t = luann.safetensors.load(p)
      -- the small tensor is copied, the big one is the file's pages
      assert.is_true(luann.memory_allocated() - before < 1 << 20)
      assert.equal(n - 1, t.big[n])
      assert.equal((n - 1) * n / 2, t.big:double():sum():item())
      t.big:fill_(7)
      assert.equal(7, t.big[1])
      t = nil
      collectgarbage()
      assert.equal(before_file, read_file(p))
      assert.equal(0, luann.safetensors.load(p).big[1])
    end)
  end)
  describe("hostile files", function()
    -- a valid file: two F32 tensors, "a" (2) at [0, 8) and "b" (1) at [8, 12)
    local function file(header, data)
      return string.pack("<I8", #header) .. header .. (data or string.rep("\0", 12))
    end
    local good = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
      .. '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}'

    local function load_error(bytes)
      local p = tmp()
      write_file(p, bytes)
      return err_of(luann.safetensors.load, p), p
    end
    local function expect(bytes, what)
      local msg, p = load_error(bytes)
      assert.equal("safetensors.load: " .. p .. ": " .. what, msg)
    end

    it("loads the valid file the cases below damage", function()
      local p = tmp()
      write_file(p, file(good, string.pack("<fff", 1, 2, 3)))
      local t = luann.safetensors.load(p)
      assert.same({ 1, 2 }, helpers.values(t.a))
      assert.same({ 3 }, helpers.values(t.b))
    end)

    it("refuses every truncation, naming the file", function()
      local bytes = file(good)
      for len = 0, #bytes - 1 do
        local msg, p = load_error(bytes:sub(1, len))
        assert.matches("^safetensors.load: " .. p:gsub("%p", "%%%0") .. ": ", msg)
      end
      expect(bytes:sub(1, 5), "too short for a safetensors file (fewer than 8 bytes)")
      expect(bytes:sub(1, 30), ("the header claims %d bytes, but the file is shorter "
        .. "(truncated, or not safetensors)"):format(#good))
      expect(bytes:sub(1, -2), "tensor 'b' has data_offsets past the end of the file")
    end)

    it("refuses huge header lengths before allocating", function()
      expect(string.pack("<I8", 1 << 62) .. good, "the header claims 4611686018427387904 bytes, "
        .. "but the limit is 100000000")
      expect(string.pack("<I8", -1) .. good, "the header claims 18446744073709551615 bytes, "
        .. "but the limit is 100000000")
      expect(string.pack("<I8", 200000000) .. good, "the header claims 200000000 bytes, "
        .. "but the limit is 100000000")
    end)

    it("refuses offsets out of range, overlaps, gaps and sizes that disagree", function()
      expect(file('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'),
        "tensor 'a' has data_offsets past the end of the file")
      expect(file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551615,3]}}'),
        "tensor 'a' has data_offsets that are not [begin, end] with begin <= end")
      expect(file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
        .. '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'), "tensor 'b' overlaps 'a'")
      expect(file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
        .. '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}'),
        "there are bytes no tensor covers before tensor 'b'")
      expect(file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'),
        "the file has bytes after its last tensor's data")
      expect(file('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]},'
        .. '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}'),
        "tensor 'a': F32 of shape (3,) is 12 bytes, but its data_offsets span 8")
      expect(file('{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,12]}}'),
        "tensor 'a' has a shape that is not a list of sizes")
      expect(file('{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,12]}}'),
        "tensor 'a' has a shape that is not a list of sizes")
      expect(file('{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,12]}}'),
        "tensor 'a' has shape (1099511627776,1099511627776): 1208925819614629174706176 "
        .. "elements are too many")
      expect(file('{"a":{"dtype":"F32","shape":[0,1099511627776],"data_offsets":[0,0]}}', ""),
        "tensor 'a' has shape (0,1099511627776), which spans 4398046511104 bytes: more than "
        .. "1100 times the file's 76 bytes")
      expect(file('{"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}'),
        "tensor 'a' has more than 8 dims")
    end)

    it("refuses unknown dtypes, bad JSON, non-UTF-8 text and duplicate names", function()
      expect(file('{"a":{"dtype":"F99","shape":[3],"data_offsets":[0,12]}}'),
        "tensor 'a' has the unknown dtype \"F99\"")
      expect(file('{"a":{"dtype":7,"shape":[3],"data_offsets":[0,12]}}'),
        "tensor 'a' needs a string \"dtype\" and arrays \"shape\" and \"data_offsets\"")
      expect(file('{"a\xff":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}'),
        "the header is not valid UTF-8 (at byte 3 of the JSON)")
      expect(file('{"a\xed\xa0\x80":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}'),
        "the header is not valid UTF-8 (at byte 3 of the JSON)")
      expect(file('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}'),
        "the header is not valid JSON")
      expect(file('[1,2]'), "the header is not a JSON object (it must start with '{')")
      expect(file('{"a":1} x'), "the header has data after its JSON")
      expect(file('{"a":1}'), "the entry of tensor 'a' is not an object")
      expect(file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
        .. '"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'),
        "the tensor name 'a' appears twice")
      expect(file('{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}'),
        "__metadata__ value 'k' is not a string")
      expect(file(string.rep("[", 100000) .. string.rep("]", 100000)),
        "the header is not a JSON object (it must start with '{')")
      expect(file("{\"a\":" .. string.rep("[", 100000) .. string.rep("]", 100000) .. "}"),
        "the header is not valid JSON")
    end)

    it("allocates no more than the file justifies", function()
      -- a child process reads forged files; its peak memory barely moves
      local p = tmp()
      write_file(p, file('{"a":{"dtype":"F32","shape":[0,1099511627776],"data_offsets":[0,0]},'
        .. '"b":{"dtype":"I8","shape":[268435456],"data_offsets":[0,268435456]}}', ""))
      local out = helpers.run_with_peak(([[
        local before = peak()
        for _ = 1, 20 do assert(not pcall(luann.safetensors.load, %q)) end
        print(peak() - before)
      ]]):format(p))
      assert.is_true(tonumber(out) ~= nil and tonumber(out) < 4096, out)
    end)
  end)
end)
