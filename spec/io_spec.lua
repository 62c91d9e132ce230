-- io_spec.lua: luann.read_idx (core/idx.c). IDX files are written here by a
-- tiny writer (string.pack), plain and gzipped through the gzip tool, valid
-- and broken; the real Fashion-MNIST files are read when installed.
local luann = require "luann"

local TYPES = {
  ubyte = { code = 0x08, fmt = "B", dtype = "uint8" },
  sbyte = { code = 0x09, fmt = "b", dtype = "int64" },
  short = { code = 0x0B, fmt = ">i2", dtype = "int64" },
  int = { code = 0x0C, fmt = ">i4", dtype = "int64" },
  float = { code = 0x0D, fmt = ">f", dtype = "float32" },
  double = { code = 0x0E, fmt = ">d", dtype = "float64" },
}

local helpers = require "helpers"
local read_file, write_file = helpers.read_file, helpers.write_file

-- The bytes of an IDX file: magic, big-endian dims, then values packed with
-- the type's format (`values` may be longer or shorter than the dims say).
local function idx_bytes(type_name, dims, values)
  local t = TYPES[type_name]
  local parts = { string.char(0, 0, t.code, #dims) }
  for _, d in ipairs(dims) do parts[#parts + 1] = string.pack(">I4", d) end
  for _, v in ipairs(values) do parts[#parts + 1] = string.pack(t.fmt, v) end
  return table.concat(parts)
end

local tmpfiles = {}
local function tmp(suffix)
  local p = os.tmpname() .. (suffix or "")
  tmpfiles[#tmpfiles + 1] = p
  return p
end

local function gzip(path)
  assert(os.execute("gzip -c '" .. path .. "' > '" .. path .. ".gz'"))
  tmpfiles[#tmpfiles + 1] = path .. ".gz"
  return path .. ".gz"
end

local function err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  return err
end

local flat = helpers.flat

local function range(n, f)
  local r = {}
  for i = 1, n do r[i] = f(i) end
  return r
end

describe("io", function()
  teardown(function()
    for _, p in ipairs(tmpfiles) do os.remove(p) end
  end)

  describe("read_idx", function()
    it("reads ubyte images into a uint8 tensor of the header's shape", function()
      local values = range(24, function(i) return (i * 37) % 256 end)
      local path = tmp()
      write_file(path, idx_bytes("ubyte", { 2, 3, 4 }, values))
      local t = luann.read_idx(path)
      assert.equal("uint8", t.dtype)
      assert.same({ 2, 3, 4 }, t.shape)
      assert.same(values, flat(t:tolist()))
    end)

    it("reads 1-D labels", function()
      local path = tmp()
      write_file(path, idx_bytes("ubyte", { 5 }, { 9, 0, 0, 3, 255 }))
      local t = luann.read_idx(path)
      assert.same({ 5 }, t.shape)
      assert.same({ 9, 0, 0, 3, 255 }, t:tolist())
    end)

    it("reads every IDX type with its sign and precision", function()
      local cases = {
        sbyte = { -128, -1, 0, 1, 127, 5 },
        short = { -32768, -2, 0, 300, 32767, 7 },
        int = { -2147483648, -70000, 0, 65536, 2147483647, 9 },
        float = { -1.5, 0.25, 0, 3.0e38, -1.0e-38, 7 },
        double = { -1.5, 0.1, 0, 1e300, -5e-324, math.pi },
      }
      for name, values in pairs(cases) do
        local path = tmp()
        write_file(path, idx_bytes(name, { 3, 2 }, values))
        local t = luann.read_idx(path)
        assert.equal(TYPES[name].dtype, t.dtype, name)
        assert.same({ 3, 2 }, t.shape)
        local got = flat(t:tolist())
        for i, v in ipairs(values) do
          local want = name == "float" and string.unpack(">f", string.pack(">f", v)) or v
          assert.equal(want, got[i], name .. " element " .. i)
        end
      end
    end)

    it("reads gzipped files the same as plain ones", function()
      local values = range(60, function(i) return (i * 7) % 256 end)
      local path = tmp()
      write_file(path, idx_bytes("ubyte", { 3, 4, 5 }, values))
      local plain, gz = luann.read_idx(path), luann.read_idx(gzip(path))
      assert.same({ 3, 4, 5 }, gz.shape)
      assert.same(plain:tolist(), gz:tolist())
      local dpath = tmp()
      write_file(dpath, idx_bytes("double", { 2 }, { 0.5, -2.25 }))
      assert.same({ 0.5, -2.25 }, luann.read_idx(gzip(dpath)):tolist())
    end)

    it("reads a file with a zero-size dim as an empty tensor", function()
      local path = tmp()
      write_file(path, idx_bytes("ubyte", { 0, 28 }, {}))
      local t = luann.read_idx(path)
      assert.same({ 0, 28 }, t.shape)
      assert.equal(0, t:numel())
    end)

    describe("errors", function()
      it("names a file that cannot be opened", function()
        assert.equal("read_idx: cannot open /nonexistent/x.idx: No such file or directory",
          err_of(luann.read_idx, "/nonexistent/x.idx"))
        local dir = os.getenv("TMPDIR") or "/tmp"
        assert.equal("read_idx: " .. dir .. " is a directory", err_of(luann.read_idx, dir))
      end)

      it("rejects a wrong magic", function()
        local path = tmp()
        write_file(path, string.char(1, 2, 3, 4) .. string.rep("\0", 20))
        assert.equal("read_idx: " .. path .. ": not an IDX file (bad magic 0x01020304)",
          err_of(luann.read_idx, path))
        write_file(path, "\0\0")
        assert.equal("read_idx: " .. path .. ": not an IDX file (2 bytes long)",
          err_of(luann.read_idx, path))
        write_file(path, string.char(0, 0, 0x0A, 1, 0, 0, 0, 1, 0))
        assert.equal("read_idx: " .. path .. ": unknown data type 0x0a in the magic",
          err_of(luann.read_idx, path))
      end)

      it("rejects dim counts outside 1..8 and a header cut inside the dims", function()
        local path = tmp()
        write_file(path, string.char(0, 0, 8, 0))
        assert.equal("read_idx: " .. path .. ": 0 dims in the header (1 to 8 supported)",
          err_of(luann.read_idx, path))
        write_file(path, string.char(0, 0, 8, 9) .. string.rep(string.pack(">I4", 1), 9) .. "x")
        assert.equal("read_idx: " .. path .. ": 9 dims in the header (1 to 8 supported)",
          err_of(luann.read_idx, path))
        write_file(path, string.char(0, 0, 8, 3) .. string.pack(">I4", 2) .. "\0\0")
        assert.equal("read_idx: " .. path .. ": the header ends inside the dims",
          err_of(luann.read_idx, path))
      end)

      it("reports truncated data with the expected and actual sizes", function()
        local path = tmp()
        write_file(path, idx_bytes("ubyte", { 2, 3 }, { 1, 2, 3, 4 }))
        assert.equal("read_idx: " .. path .. ": truncated: expected 6 bytes of data, got 4",
          err_of(luann.read_idx, path))
        local gz = gzip(path)
        assert.equal("read_idx: " .. gz .. ": truncated: expected 6 bytes of data, got 4",
          err_of(luann.read_idx, gz))
        write_file(path, idx_bytes("int", { 3 }, { 1, 2 }))
        assert.equal("read_idx: " .. path .. ": truncated: expected 12 bytes of data, got 8",
          err_of(luann.read_idx, path))
      end)

      it("rejects data the dims do not describe", function()
        local path = tmp()
        write_file(path, idx_bytes("ubyte", { 2, 2 }, { 1, 2, 3, 4, 5 }))
        assert.equal("read_idx: " .. path .. ": more data than the header's dims describe "
          .. "(expected 4 bytes of data, got 5)", err_of(luann.read_idx, path))
        local gz = gzip(path)
        assert.equal("read_idx: " .. gz .. ": more data than the header's dims describe "
          .. "(expected 4 bytes of data)", err_of(luann.read_idx, gz))
      end)

      it("rejects absurd dims before allocating anything", function()
        local path = tmp()
        local huge = { 65535, 65535, 65535, 65535 }
        write_file(path, idx_bytes("double", huge, { 1 }))
        assert.equal("read_idx: " .. path .. ": absurd dims (65535,65535,65535,65535) in the header",
          err_of(luann.read_idx, path))
      end)

      it("reads only what a forged gzip file really holds", function()
        -- dims promise 10 GB; the file holds 3 bytes: an error, not an allocation
        local path = tmp()
        write_file(path, idx_bytes("ubyte", { 100000, 100000 }, { 1, 2, 3 }))
        local gz = gzip(path)
        -- compressed, it is refused before inflating: no file may ask for
        -- more than 1,100 times its size
        assert.equal(("read_idx: %s: absurd dims (100000,100000) in the header: 10000000000 "
          .. "bytes in memory, more than 1100 times the file's %d bytes"):format(gz, #read_file(gz)),
          err_of(luann.read_idx, gz))
        assert.equal("read_idx: " .. path .. ": truncated: expected 10000000000 bytes of data, got 3",
          err_of(luann.read_idx, path))
      end)

      it("reports a gzip stream that is cut short", function()
        local values = range(4000, function(i) return (i * i) % 251 end)
        local path = tmp()
        write_file(path, idx_bytes("ubyte", { 4000 }, values))
        local gz = gzip(path)
        local bytes = read_file(gz)
        write_file(gz, bytes:sub(1, #bytes // 2))
        assert.matches("^read_idx: " .. gz:gsub("%p", "%%%0") .. ": truncated: expected 4000 bytes "
          .. "of data, got %d+ %(the gzip stream is cut short%)$", err_of(luann.read_idx, gz))
      end)

      it("reports corrupt gzip data", function()
        local values = range(4000, function(i) return (i * i) % 251 end)
        local path = tmp()
        write_file(path, idx_bytes("ubyte", { 4000 }, values))
        local gz = gzip(path)
        local bytes = read_file(gz)
        local mid = #bytes // 2
        write_file(gz, bytes:sub(1, mid) .. string.rep("\255", 40) .. bytes:sub(mid + 41))
        local err = err_of(luann.read_idx, gz)
        assert.matches("^read_idx: " .. gz:gsub("%p", "%%%0") .. ": ", err)
      end)

      it("checks its argument", function()
        assert.matches("bad argument #1 to '[%w.]*read_idx' %(string expected, got no value%)",
          err_of(luann.read_idx))
      end)
    end)

    local dir = "/usr/share/datasets/fashion-mnist/"
    local have_fashion = io.open(dir .. "train-labels-idx1-ubyte.gz", "rb")
    if have_fashion then have_fashion:close() end
    local real = have_fashion and it or pending

    real("reads Fashion-MNIST's training set", function()
      local images = luann.read_idx(dir .. "train-images-idx3-ubyte.gz")
      local labels = luann.read_idx(dir .. "train-labels-idx1-ubyte.gz")
      assert.same({ 60000, 28, 28 }, images.shape)
      assert.equal("uint8", images.dtype)
      assert.same({ 60000 }, labels.shape)
      -- the file's first labels are 9 (ankle boot), 0, 0, 3; 6000 per class
      assert.same({ 9, 0, 0, 3 }, { labels[1], labels[2], labels[3], labels[4] })
      local counts = {}
      for _, l in ipairs(labels:tolist()) do counts[l] = (counts[l] or 0) + 1 end
      for c = 0, 9 do assert.equal(6000, counts[c]) end
    end)

    real("reads Fashion-MNIST's test images byte for byte", function()
      local gz = dir .. "t10k-images-idx3-ubyte.gz"
      local raw = tmp()
      assert(os.execute("gzip -dc '" .. gz .. "' > '" .. raw .. "'"))
      local bytes = read_file(raw)
      local images = luann.read_idx(gz)
      assert.same({ 10000, 28, 28 }, images.shape)
      -- the first and the last image against the decompressed file
      for _, n in ipairs({ 1, 10000 }) do
        local want = { bytes:byte(16 + (n - 1) * 784 + 1, 16 + n * 784) }
        assert.same(want, flat(images[n]:tolist()))
      end
    end)
  end)
end)
