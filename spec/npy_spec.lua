-- npy_spec.lua: luann.numpy (.npy and .npz) against numpy itself (Debian's
-- python3-numpy; spec/support/numpy_exchange.py writes and checks the
-- files), and hostile files.
local luann = require "luann"
local helpers = require "helpers"

local tmp, remove_all = helpers.temp_paths(".npy")
local err_of, write_file = helpers.err_of, helpers.write_file

local function python(...) return helpers.python("numpy_exchange.py", ...) end

-- numpy_exchange.py's values: arange(n), minus 2 when signed, times 0.5
-- when float, odd ones true when bool.
local function expected(kind, n)
  local v = {}
  for i = 0, n - 1 do
    if kind == "b" then v[#v + 1] = i % 2 == 1
    elseif kind == "f" then v[#v + 1] = i * 0.5
    elseif kind == "i" then v[#v + 1] = i - 2
    else v[#v + 1] = i end
  end
  return v
end

local LOADS_AS = { f2 = "float32", f4 = "float32", f8 = "float64", i1 = "int64", i2 = "int64",
  i4 = "int64", i8 = "int64", u1 = "uint8", u2 = "int64", u4 = "int64", b1 = "bool" }

describe("luann.numpy", function()
  local dir
  setup(function()
    local p = assert(io.popen("mktemp -d"))
    dir = p:read("l")
    p:close()
    python("write", dir)
  end)
  teardown(function()
    os.execute("rm -rf '" .. dir .. "'")
    remove_all()
  end)

  describe("load", function()
    it("reads every dtype numpy.save writes, in both byte orders", function()
      local n = 0
      for code, dtype in pairs(LOADS_AS) do
        for _, order in ipairs { "le", "be" } do
          local f = io.open(dir .. "/" .. order .. "_" .. code .. ".npy")
          if f then
            f:close()
            local t = luann.numpy.load(dir .. "/" .. order .. "_" .. code .. ".npy")
            assert.equal(dtype, t.dtype, order .. code)
            assert.same({ 2, 3 }, t.shape, order .. code)
            assert.same(expected(code:sub(1, 1), 6), helpers.values(t), order .. code)
            n = n + 1
          end
        end
      end
      assert.equal(19, n)
    end)

    it("reads Fortran order as the same row-major tensor", function()
      local t = luann.load(dir .. "/fortran_f8.npy")
      assert.same({ 2, 3, 4 }, t.shape)
      assert.is_true(t:is_contiguous())
      assert.same(expected("f", 24), helpers.values(t))
      t = luann.load(dir .. "/fortran_be_i4.npy")
      assert.same({ 3, 5 }, t.shape)
      assert.same(expected("i", 15), helpers.values(t))
    end)

    it("reads format versions 1, 2 and 3, 0-d, empty and 8-dim arrays", function()
      for v = 1, 3 do
        local t = luann.load(dir .. "/v" .. v .. "_f4.npy")
        assert.same({ 4, 2 }, t.shape)
        assert.same(expected("f", 8), helpers.values(t))
      end
      local s = luann.load(dir .. "/scalar_f8.npy")
      assert.same({}, s.shape)
      assert.equal(2.5, s:item())
      assert.same({ 0, 3 }, luann.load(dir .. "/empty_f4.npy").shape)
      assert.same({ 1, 1, 1, 1, 1, 1, 1, 1 }, luann.load(dir .. "/wide_f4.npy").shape)
    end)

    it("reads .npz archives of numpy.savez and savez_compressed", function()
      for _, name in ipairs { "plain", "compressed" } do
        local z = luann.load(dir .. "/" .. name .. ".npz")
        assert.same({ "b", "m", "w" }, helpers.sorted_keys(z))
        assert.same(expected("f", 6), helpers.values(z.w))
        assert.same({ 2, 3 }, z.w.shape)
        assert.same(expected("i", 3), helpers.values(z.b))
        assert.equal("int64", z.b.dtype)
        assert.same(expected("b", 4), helpers.values(z.m))
      end
      local z = luann.numpy.load(dir .. "/positional.npz")
      assert.same({ "arr_0", "arr_1" }, helpers.sorted_keys(z))
      assert.same({ 0, 1 }, helpers.values(z.arr_1))
    end)
  end)

  describe("save", function()
    it("writes files numpy.load reads as the same arrays", function()
      local function t(kind, dtype, shape)
        local n = 1
        for _, s in ipairs(shape) do n = n * s end
        local v = expected(kind, n)
        if #shape == 0 then return luann.tensor(v[1], { dtype = dtype }) end
        return luann.tensor(v, { dtype = dtype }):view(shape)
      end
      luann.numpy.save(dir .. "/luann_f4.npy", t("f", "float32", { 2, 3 }))
      luann.numpy.save(dir .. "/luann_f8.npy", t("f", "float64", { 3, 2 }))
      luann.save(dir .. "/luann_i8.npy", t("i", "int64", { 4 }))
      luann.save(dir .. "/luann_u1.npy", t("u", "uint8", { 2, 2 }))
      luann.save(dir .. "/luann_b1.npy", t("b", "bool", { 5 }))
      luann.save(dir .. "/luann_scalar.npy", t("f", "float64", {}))
      luann.save(dir .. "/luann_empty.npy", luann.zeros(0, 4))
      luann.save(dir .. "/luann_strided.npy", t("f", "float64", { 2, 3 }):t())
      assert.equal("ok\n", python("check", dir))
      -- and back
      local back = luann.load(dir .. "/luann_strided.npy")
      assert.same({ 3, 2 }, back.shape)
      assert.same({ 0, 1.5, 0.5, 2, 1, 2.5 }, helpers.values(back))
    end)
  end)

  describe("hostile files", function()
    local function npy(header, data, version)
      version = version or 1
      local len = version == 1 and string.pack("<I2", #header) or string.pack("<I4", #header)
      return "\x93NUMPY" .. string.char(version, 0) .. len .. header .. (data or "")
    end
    local function expect(bytes, what)
      local p = tmp()
      write_file(p, bytes)
      assert.equal("npy.load: " .. p .. ": " .. what, err_of(luann.numpy.load, p))
    end
    local good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"

    it("loads the valid file the cases below damage", function()
      local p = tmp()
      write_file(p, npy(good, string.pack("<ff", 1, 2)))
      assert.same({ 1, 2 }, helpers.values(luann.numpy.load(p)))
    end)

    it("refuses truncations, bad magic and versions, naming the file", function()
      local bytes = npy(good, string.pack("<ff", 1, 2))
      for len = 0, #bytes - 1 do
        local p = tmp()
        write_file(p, bytes:sub(1, len))
        assert.matches("^npy.load: " .. p:gsub("%p", "%%%0") .. ": ", err_of(luann.numpy.load, p))
      end
      expect(bytes:sub(1, -2), "truncated: expected 8 bytes of data, got 7")
      expect(bytes .. "x", "too long: expected 8 bytes of data, got 9")
      expect("\x93NUMPZ\1\0\0\0", "not a .npy file (no \\x93NUMPY magic)")
      expect(npy(good, "", 4), "unknown .npy format version 4.0")
      expect(npy(good, "", 2):sub(1, 11), "truncated in its header")
      expect("\x93NUMPY\2\0" .. string.pack("<I4", 0xFFFFFFFF) .. good, "truncated in its header")
    end)

    it("refuses headers that are not numpy's dict, and dtypes luann lacks", function()
      expect(npy("{'descr': '<f4', 'fortran_order': False}"),
        "the header lacks 'descr', 'fortran_order' or 'shape'")
      expect(npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}"),
        "the header has an unknown or repeated key")
      expect(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}"),
        "the dtype ('descr') is not a simple one (structured arrays are not supported)")
      expect(npy("{'descr': '<u8', 'fortran_order': False, 'shape': (1,)}"),
        "the dtype '<u8' cannot be loaded (luann loads float16/32/64, int8/16/32/64, "
        .. "uint8/16/32 and bool)")
      expect(npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}"),
        "the dtype '|O' cannot be loaded (luann loads float16/32/64, int8/16/32/64, "
        .. "uint8/16/32 and bool)")
      expect(npy("{'descr': '<f4', 'fortran_order': 1, 'shape': (1,)}"),
        "'fortran_order' is not True or False")
      expect(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"),
        "the header's shape is not a tuple of sizes")
      expect(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
        "a size in the header's shape is too large")
      expect(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}"),
        "the array has more than 8 dims")
      expect(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x"),
        "the header has data after its dict")
      expect(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1099511627776)}"),
        "the array has shape (0,1099511627776), which spans 4398046511104 bytes: more than "
        .. "1100 times the file's 79 bytes")
      expect(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 2)}"),
        "the array has shape (1099511627776,2): 2199023255552 elements are too many")
    end)

    it("refuses damaged .npz archives, naming the file", function()
      local src = dir .. "/compressed.npz"
      local f = assert(io.open(src, "rb"))
      local bytes = f:read("a")
      f:close()
      for _, cut in ipairs { 0, 4, 30, #bytes // 2, #bytes - 22, #bytes - 1 } do
        local p = tmp(".npz")
        write_file(p, bytes:sub(1, cut))
        -- a cut file is not a zip archive: read as .npy, or refused by libzip
        assert.matches(p:gsub("%p", "%%%0"), err_of(luann.load, p))
      end
      -- a deflated member damaged in the middle fails its CRC or inflating
      local p = tmp(".npz")
      local i = bytes:find("w.npy", 1, true) + 60
      write_file(p, bytes:sub(1, i - 1) .. string.char(bytes:byte(i) ~ 0xFF) .. bytes:sub(i + 1))
      assert.matches("^npz.load: " .. p:gsub("%p", "%%%0") .. ": ", err_of(luann.load, p))
    end)
  end)
end)
