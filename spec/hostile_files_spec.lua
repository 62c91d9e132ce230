-- hostile_files_spec.lua: files built to hurt the readers (core/idx.c,
-- core/checkpoint.c; safetensors and .npy in their own specs), and the
-- libFuzzer seed corpus replayed through the Lua API. The gzip bombs are
-- deflate streams written bit by bit here: a dynamic Huffman block whose
-- only codes are "length 258" and "end", each match two bits, so 1,032
-- bytes come out of each byte: deflate's best.
local luann = require "luann"
local checksums = require "checksums"
local helpers = require "helpers"
local read_file, write_file = helpers.read_file, helpers.write_file

local function shell(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  p:close()
  return out
end

local dir = shell("mktemp -d"):gsub("%s+$", "")
local function path_of(name) return dir .. "/" .. name end


local function err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  return err
end

-- ---- a gzip bomb ------------------------------------------------------------

-- Bits packed least significant first, as deflate wants them.
local function bit_writer()
  local bytes, acc, n = {}, 0, 0
  local w = {}
  function w.put(value, bits)
    for i = 0, bits - 1 do
      acc = acc | (((value >> i) & 1) << n)
      n = n + 1
      if n == 8 then
        bytes[#bytes + 1] = string.char(acc)
        acc, n = 0, 0
      end
    end
  end
  function w.aligned() return n == 0 end
  function w.raw(s) assert(n == 0); bytes[#bytes + 1] = s end
  function w.finish()
    if n > 0 then bytes[#bytes + 1] = string.char(acc) end
    return table.concat(bytes)
  end
  return w
end

-- A deflate stream of prefix (stored as it is; its last byte must be 0)
-- then 258 * (3 + 4 * k) zero bytes. The dynamic block's codes: literal/
-- length 256 and 285 of 1 bit each, distance 1 of 1 bit; so the header's
-- code lengths are "138, 118 and 28 zeros" (code 18) and three 1s.
local function deflate_zeros(prefix, k)
  assert(prefix:byte(-1) == 0)
  local w = bit_writer()
  w.put(0, 1); w.put(0, 2); w.put(0, 5) -- stored block, then align
  w.raw(string.pack("<I2I2", #prefix, #prefix ~ 0xFFFF) .. prefix)
  w.put(1, 1); w.put(2, 2)              -- final block, dynamic codes
  w.put(286 - 257, 5); w.put(0, 5); w.put(18 - 4, 4)
  -- code length code lengths, in deflate's order 16 17 18 0 8 7 9 6 10 5
  -- 11 4 12 3 13 2 14 1: symbol 18 and symbol 1 have 1 bit ("1" and "0")
  for i = 1, 18 do w.put((i == 3 or i == 18) and 1 or 0, 3) end
  local function zeros(count) w.put(1, 1); w.put(count - 11, 7) end
  zeros(138); zeros(118) -- literals 0..255: unused
  w.put(0, 1)            -- 256, end of block: 1 bit
  zeros(28)              -- 257..284: unused
  w.put(0, 1)            -- 285, length 258: 1 bit
  w.put(0, 1)            -- distance code 0 (distance 1): 1 bit
  -- canonical codes: 256 is "0", 285 is "1"; a match is "1" then "0"
  for _ = 1, 3 do w.put(1, 1); w.put(0, 1) end
  assert(w.aligned())
  w.raw(("\x55"):rep(k)) -- four matches a byte
  w.put(0, 1)            -- end of block
  return w.finish()
end

-- CRC-32 of s followed by n zero bytes (one table step a zero).
local function crc32_zeros(s, n)
  local c = checksums.crc32(s) ~ 0xFFFFFFFF
  local tab = {}
  for i = 0, 255 do
    local v = i
    for _ = 1, 8 do v = (v & 1 == 1) and (0xEDB88320 ~ (v >> 1)) or (v >> 1) end
    tab[i] = v
  end
  for _ = 1, n do c = tab[c & 0xFF] ~ (c >> 8) end
  return c ~ 0xFFFFFFFF
end

-- A gzip file of prefix and the zeros; trailer = false leaves the stream
-- without its CRC (a bomb needs none: nothing reads that far).
local function gzip_zeros(prefix, k, trailer)
  local body = deflate_zeros(prefix, k)
  local n = 258 * (3 + 4 * k)
  local tail = trailer == false and ""
    or string.pack("<I4I4", crc32_zeros(prefix, n), (#prefix + n) & 0xFFFFFFFF)
  return "\x1f\x8b\x08\x00\0\0\0\0\0\x03" .. body .. tail, #prefix + n
end

-- The IDX header of an array of ubyte (0x08) or sbyte (0x09) values.
local function idx_header(code, dims)
  local parts = { string.char(0, 0, code, #dims) }
  for _, d in ipairs(dims) do parts[#parts + 1] = string.pack(">I4", d) end
  return table.concat(parts)
end

-- ---- checkpoints with valid checksums (the format of core/checkpoint.c) ------

local forge = require "forge"
local forge_ckpt = forge.checkpoint

-- A tensor record with its sizes only (no data).
local function tensor_record(code, shape) return forge.rec.tensor(code, 0, shape) end

describe("hostile files", function()
  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

  describe("read_idx", function()
    it("writes a bomb zlib inflates (the forger is right)", function()
      local bytes, n = gzip_zeros(idx_header(0x08, { 1 + 258 * 7 }) .. "\0", 1)
      local p = path_of("small.idx.gz")
      write_file(p, bytes)
      assert.equal(8 + 1 + 258 * 7, n)
      assert.equal(string.rep("\0", 8), shell("gzip -dc '" .. p .. "' | head -c 16 | tail -c 8"))
      assert.same({ 1 + 258 * 7 }, luann.read_idx(p).shape)
    end)

    it("refuses a gzip bomb at once, before inflating it", function()
      -- 100 KB that inflate to 103 MB, under dims claiming 1 TB
      local p = path_of("bomb.idx.gz")
      local bytes = gzip_zeros(idx_header(0x08, { 1 << 20, 1 << 20 }), 100000, false)
      write_file(p, bytes)
      assert.equal(("read_idx: %s: absurd dims (1048576,1048576) in the header: "
        .. "1099511627776 bytes in memory, more than 1100 times the file's %d bytes")
        :format(p, #bytes), err_of(luann.read_idx, p))
      -- the peak memory of a process that reads it grows by next to nothing
      local out = helpers.run_with_peak(([[
        local before = peak()
        local ok = pcall(luann.read_idx, %q)
        print(ok, peak() - before)
      ]]):format(p))
      local ok, kb = out:match("^(%a+)%s+(%d+)")
      assert.equal("false", ok, out)
      assert.is_true(tonumber(kb) < 8 * 1024, out)
    end)

    it("reads an honest gzip file at deflate's best ratio", function()
      -- 1 KB inflating to 1 MB, whose dims say exactly that: it loads
      local n = 1 + 258 * (3 + 4 * 1000)
      local bytes, total = gzip_zeros(idx_header(0x08, { n }) .. "\0", 1000)
      assert.equal(8 + n, total)
      local p = path_of("honest.idx.gz")
      write_file(p, bytes)
      assert.is_true(total / #bytes > 980)
      local t = luann.read_idx(p)
      assert.same({ n }, t.shape)
      assert.equal(0, t:max():item())
    end)

    it("counts the tensor's bytes: int types widen to int64", function()
      -- the same ratio as above, but as sbyte each value takes 8 bytes
      local n = 1 + 258 * (3 + 4 * 1000)
      local bytes = gzip_zeros(idx_header(0x09, { n }) .. "\0", 1000)
      local p = path_of("sbyte.idx.gz")
      write_file(p, bytes)
      assert.equal(("read_idx: %s: absurd dims (%d,) in the header: %d bytes in memory, "
        .. "more than 1100 times the file's %d bytes"):format(p, n, 8 * n, #bytes),
        err_of(luann.read_idx, p))
    end)

    it("refuses an empty tensor whose other dims are astronomical", function()
      local p = path_of("empty.idx")
      write_file(p, idx_header(0x08, { 0, 4294967295 }))
      assert.equal("read_idx: " .. p .. ": absurd dims (0,4294967295) in the header: an empty "
        .. "tensor whose other dims span 4294967295 bytes, more than 1100 times the file's "
        .. "12 bytes", err_of(luann.read_idx, p))
      write_file(p, idx_header(0x0E, { 4294967295, 4294967295, 4294967295, 0 }))
      assert.equal("read_idx: " .. p .. ": absurd dims (4294967295,4294967295,4294967295,0) "
        .. "in the header", err_of(luann.read_idx, p))
    end)

    it("reads an empty tensor of ordinary dims", function()
      local p = path_of("empty28.idx")
      write_file(p, idx_header(0x08, { 0, 28, 28 }))
      local t = luann.read_idx(p)
      assert.same({ 0, 28, 28 }, t.shape)
      assert.equal("uint8", t.dtype)
    end)

    it("still tells a plain file's truncation exactly", function()
      local p = path_of("forged.idx")
      write_file(p, idx_header(0x08, { 1 << 20, 1 << 20 }) .. "\1\2\3")
      assert.equal("read_idx: " .. p .. ": truncated: expected 1099511627776 bytes of data, got 3",
        err_of(luann.read_idx, p))
    end)
  end)

  describe("load", function()
    local function forged_error(payload)
      local p = path_of("forged.ckp")
      write_file(p, forge_ckpt(payload))
      return err_of(luann.load, p)
    end

    it("refuses an empty tensor whose other sizes are astronomical", function()
      local p = path_of("forged.ckp")
      assert.equal("load: " .. p .. ": corrupt checkpoint (a tensor of shape "
        .. "(0,4611686018427387904): its nonzero sizes multiply past 2^40)",
        forged_error(tensor_record(0, { 0, 1 << 62 })))
      assert.equal("load: " .. p .. ": corrupt checkpoint (a tensor of shape "
        .. "(2097152,0,2097152): its nonzero sizes multiply past 2^40)",
        forged_error(tensor_record(2, { 1 << 21, 0, 1 << 21 })))
      assert.equal("load: " .. p .. ": corrupt checkpoint (a tensor of shape "
        .. "(4294967296,4294967296,4294967296): its nonzero sizes multiply past 2^40)",
        forged_error(tensor_record(3, { 1 << 32, 1 << 32, 1 << 32 })))
    end)

    it("reads an empty tensor at the limit of 2^40", function()
      local p = path_of("limit.ckp")
      write_file(p, forge_ckpt(tensor_record(0, { 1 << 20, 0, 1 << 20 })))
      assert.same({ 1 << 20, 0, 1 << 20 }, luann.load(p).shape)
    end)
  end)

  describe("the libFuzzer seed corpus", function()
    -- each seed loads or raises an error naming its file; none crashes
    local function replay(target, each)
      local names = shell("ls fuzz/corpus/" .. target)
      local count = 0
      for name in names:gmatch("[^\n]+") do
        local p = "fuzz/corpus/" .. target .. "/" .. name
        local ok, err, named = each(p, read_file(p))
        if not ok then assert.matches((named or p):gsub("%p", "%%%0"), err) end
        count = count + 1
      end
      assert.is_true(count > 10)
    end

    it("replays fuzz/corpus/idx and fuzz/corpus/gz through read_idx", function()
      local read = function(p) return pcall(luann.read_idx, p) end
      replay("idx", read)
      replay("gz", read)
    end)

    it("replays fuzz/corpus/safetensors, npy and npz through their loaders", function()
      replay("safetensors", function(p) return pcall(luann.safetensors.load, p) end)
      replay("npy", function(p) return pcall(luann.numpy.load, p) end)
      local ok_count = 0
      local each = function(p)
        local ok, err = pcall(luann.numpy.load, p)
        if ok then ok_count = ok_count + 1 end
        return ok, err
      end
      local names = shell("ls fuzz/corpus/npz")
      for name in names:gmatch("[^\n]+") do
        local p = "fuzz/corpus/npz/" .. name
        local ok, err = each(p)
        if not ok then assert.matches((p:gsub("%p", "%%%0")), err) end
      end
      assert.is_true(ok_count >= 2) -- the valid archives load
    end)

    it("replays the files of fuzz/corpus/ckpt through load", function()
      local p = path_of("seed.ckp")
      replay("ckpt", function(_, bytes)
        if bytes:byte(1) % 2 == 1 then return true end -- a payload, not a file
        write_file(p, bytes:sub(2))
        local ok, err = pcall(luann.load, p)
        return ok, err, p
      end)
    end)
  end)
end)
