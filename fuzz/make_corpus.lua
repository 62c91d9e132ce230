-- make_corpus.lua: writes the seed corpus of the libFuzzer harnesses,
-- fuzz/corpus/<target>/ (see fuzz/*_fuzz.c for what an input means):
-- valid files, truncated ones and forged headers, a few KB at most each.
-- Run from the repository root after a build, to regenerate the seeds:
--   LUANN_BUILD=build lua5.4 fuzz/make_corpus.lua
-- Regression inputs (findings) live beside them, named regress-*; this
-- script leaves those alone.
local build = os.getenv("LUANN_BUILD") or "build"
package.cpath = build .. "/?.so;" .. package.cpath
local luann = require "luann"

local function write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function gzip(bytes)
  local tmp = os.tmpname()
  write(tmp, bytes)
  local p = assert(io.popen("gzip -cn9 '" .. tmp .. "'", "r"))
  local gz = p:read("a")
  p:close()
  os.remove(tmp)
  return gz
end

local function seeds(target, list)
  os.execute("mkdir -p fuzz/corpus/" .. target)
  for name, bytes in pairs(list) do
    assert(#bytes <= 20000, name .. " is too large for a seed")
    write("fuzz/corpus/" .. target .. "/" .. name, bytes)
  end
end

-- ---- IDX ---------------------------------------------------------------------
local FMT = { [0x08] = "B", [0x09] = "b", [0x0B] = ">i2", [0x0C] = ">i4",
              [0x0D] = ">f", [0x0E] = ">d" }

local function idx(code, dims, n, ndim)
  local parts = { string.char(0, 0, code, ndim or #dims) }
  for _, d in ipairs(dims) do parts[#parts + 1] = string.pack(">I4", d) end
  for i = 1, n do
    local v = (i * 7) % 100
    parts[#parts + 1] = string.pack(FMT[code], code == 0x08 and v or v - 50)
  end
  return table.concat(parts)
end

local idx_seeds = {
  ubyte_10 = idx(0x08, { 10 }, 10),
  sbyte_2x3 = idx(0x09, { 2, 3 }, 6),
  short_3 = idx(0x0B, { 3 }, 3),
  int_2x2x2 = idx(0x0C, { 2, 2, 2 }, 8),
  float_4 = idx(0x0D, { 4 }, 4),
  double_2x1 = idx(0x0E, { 2, 1 }, 2),
  images_2x4x4 = idx(0x08, { 2, 4, 4 }, 32),
  empty_0x28x28 = idx(0x08, { 0, 28, 28 }, 0),
  forged_empty_0x4294967295 = idx(0x08, { 0, 4294967295 }, 0),
  forged_absurd = idx(0x0E, { 65535, 65535, 65535, 65535 }, 1),
  forged_10GB_3bytes = idx(0x08, { 100000, 100000 }, 3),
  truncated = idx(0x0C, { 3 }, 2),
  too_long = idx(0x08, { 4 }, 5),
  bad_magic = "\1\2\3\4",
  zero_dims = idx(0x08, {}, 0),
  nine_dims = idx(0x08, { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, 1),
  cut_in_dims = idx(0x08, { 5, 5 }, 0, 2):sub(1, 9),
  eight_dims = idx(0x0D, { 1, 2, 1, 2, 1, 1, 2, 1 }, 8),
}
seeds("idx", idx_seeds)

-- ---- gzip: gzipped IDX files, plain ones (gz_fuzz.c gzips those itself),
-- cut and damaged streams, and a small bomb ------------------------------
local gz_seeds = {}
for _, name in ipairs { "ubyte_10", "int_2x2x2", "double_2x1", "images_2x4x4",
                        "empty_0x28x28", "forged_empty_0x4294967295",
                        "forged_10GB_3bytes", "too_long" } do
  gz_seeds[name .. ".gz"] = gzip(idx_seeds[name])
  gz_seeds[name] = idx_seeds[name]
end
local big = gzip(idx(0x08, { 4000 }, 4000))
gz_seeds["cut_stream.gz"] = big:sub(1, #big // 2)
gz_seeds["damaged_stream.gz"] = big:sub(1, 40) .. ("\255"):rep(20) .. big:sub(61)
gz_seeds["two_members.gz"] = gzip(idx(0x08, { 6 }, 0)) .. gzip("\1\2\3\4\5\6")
-- dims (2^20, 2^20) over 64 KB of zeros: a bomb claiming 1 TB
gz_seeds["bomb_2p20x2p20.gz"] = gzip(idx(0x08, { 1 << 20, 1 << 20 }, 0)
  .. ("\0"):rep(65536))
seeds("gz", gz_seeds)

-- ---- checkpoints: mode byte 0 and a saved file, or 1 and a payload that
-- ckpt_fuzz.c wraps in a valid header (3: with a claimed payload size) -----
local tmp = os.tmpname()
local function saved(value)
  luann.save(tmp, value)
  return "\0" .. read(tmp)
end

local rec = dofile("spec/forge.lua").rec

local model = {
  weight = luann.tensor({ { 1.5, -2 }, { 0.25, 4 } }),
  bias = luann.zeros(2):double(),
  steps = 12, lr = 0.01, name = "net", done = true, off = false,
  ids = luann.tensor({ 3, 1, 2 }):long(),
  mask = luann.tensor({ 1, 0, 1 }):byte(),
  empty = luann.zeros(0, 3),
  [1] = { nested = { deeper = { 1, 2, 3 } } },
}
model.weight:requires_grad_(true)
local whole = saved(model)
local ckpt_seeds = {
  saved_model = whole,
  saved_int = saved(42),
  saved_string = saved("hello"),
  saved_bools = saved({ true, false }),
  saved_scalar = saved(luann.tensor(3.5)),
  saved_truncated = whole:sub(1, #whole - 7),
  saved_header_only = whole:sub(1, 41),
  payload_table = "\1" .. rec.table(3) .. rec.str("a") .. rec.int(-5) .. rec.int(2)
    .. rec.float(0.5) .. rec.str("t") .. rec.tensor(3, 0, { 2, 2 }, "\1\2\3\4"),
  payload_bool_tensor = "\5" .. rec.tensor(4, 0, { 3 }, "\0\7\1"),
  payload_float_tensor = "\9" .. rec.tensor(0, 1, { 2 }, ("\0\0\128\63"):rep(2)),
  payload_empty_forged = "\1" .. rec.tensor(0, 0, { 0, 1 << 62 }),
  payload_huge_tensor = "\1" .. rec.tensor(1, 0, { 1 << 20, 1 << 20, 1 << 20 }),
  payload_huge_table = "\1" .. rec.table(1 << 60),
  payload_huge_string = "\1" .. string.pack("<BI8", 5, 1 << 40) .. "ab",
  payload_deep = "\1" .. (rec.table(1) .. rec.int(1)):rep(70) .. rec.int(0),
  payload_bad_key = "\1" .. rec.table(1) .. rec.float(1.5) .. rec.int(1),
  payload_two_roots = "\1" .. rec.int(1) .. rec.int(2),
  payload_lying_size = "\3" .. string.pack("<I8", 1 << 50) .. rec.int(1),
  payload_short_size = "\3" .. string.pack("<I8", 3) .. rec.int(1),
}
os.remove(tmp)
seeds("ckpt", ckpt_seeds)

-- ---- safetensors: files luann writes, forged headers, damaged layouts -----
local function st_file(header, data)
  return string.pack("<I8", #header) .. header .. (data or "")
end
local function st_saved(tensors, metadata)
  luann.safetensors.save(tmp, tensors, metadata)
  return read(tmp)
end
tmp = os.tmpname()
local st_model = st_saved({ ["1.weight"] = luann.tensor({ { 1.5, -2 }, { 0.25, 4 } }),
  ["1.bias"] = luann.zeros(2):double(), ids = luann.tensor({ 3, 1, 2 }):long(),
  mask = luann.tensor({ true, false }), bytes = luann.tensor({ 1, 0, 255 }):byte(),
  empty = luann.zeros(0, 3), scalar = luann.tensor(2.5) }, { format = "pt" })
local function entry(name, dtype, shape, b, e)
  return ('"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}'):format(name, dtype,
    table.concat(shape, ","), b, e)
end
local st_seeds = {
  saved_model = st_model,
  saved_empty = st_saved({}),
  truncated = st_model:sub(1, #st_model - 5),
  header_only = st_model:sub(1, 8 + string.unpack("<I8", st_model)),
  narrow_dtypes = st_file("{" .. table.concat({ entry("h", "F16", { 2 }, 0, 4),
    entry("b", "BF16", { 2 }, 4, 8), entry("i8", "I8", { 2, 2 }, 8, 12),
    entry("i16", "I16", { 2 }, 12, 16), entry("i32", "I32", { 1 }, 16, 20),
    entry("u16", "U16", { 2 }, 20, 24), entry("u32", "U32", { 1 }, 24, 28) }, ",") .. "}",
    "\0\60\255\124\128\63\0\128\1\2\255\128\1\0\255\255\1\0\0\128\1\0\255\255\255\255\255\255"),
  overlap = st_file("{" .. entry("a", "F32", { 2 }, 0, 8) .. "," .. entry("b", "F32", { 2 }, 4, 12) .. "}",
    ("\0"):rep(12)),
  gap = st_file("{" .. entry("a", "F32", { 1 }, 0, 4) .. "," .. entry("b", "F32", { 1 }, 8, 12) .. "}",
    ("\0"):rep(12)),
  out_of_range = st_file("{" .. entry("a", "F64", { 4 }, 0, 32) .. "}", ("\0"):rep(8)),
  huge_shape = st_file("{" .. entry("a", "F32", { 1099511627776, 1099511627776 }, 0, 4) .. "}", "\0\0\0\0"),
  empty_huge = st_file("{" .. entry("a", "F32", { 0, 1099511627776 }, 0, 0) .. "}"),
  unknown_dtype = st_file("{" .. entry("a", "F99", { 1 }, 0, 4) .. "}", "\0\0\0\0"),
  u64_dtype = st_file("{" .. entry("a", "U64", { 1 }, 0, 8) .. "}", ("\0"):rep(8)),
  duplicate = st_file("{" .. entry("a", "U8", { 1 }, 0, 1) .. "," .. entry("a", "U8", { 1 }, 1, 2) .. "}", "\1\2"),
  not_utf8 = st_file('{"a\255":' .. entry("a", "U8", { 1 }, 0, 1):sub(5) .. "}", "\1"),
  huge_header_length = string.pack("<I8", 1 << 62) .. "{}",
  metadata_not_string = st_file('{"__metadata__":{"format":1}}'),
  deep_json = st_file('{"a":' .. ("["):rep(2000) .. ("]"):rep(2000) .. "}"),
  float_offsets = st_file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0.5,1]}}', "\1"),
}
seeds("safetensors", st_seeds)

-- ---- .npy: files luann writes, and numpy's variants written by hand -----------
local function npy(header, data, version)
  version = version or 1
  local len = version == 1 and string.pack("<I2", #header) or string.pack("<I4", #header)
  return "\x93NUMPY" .. string.char(version, 0) .. len .. header .. (data or "")
end
local function npy_saved(t)
  luann.numpy.save(tmp, t)
  return read(tmp)
end
local function dict(descr, shape, fortran)
  return ("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }\n"):format(descr,
    fortran and "True" or "False", shape)
end
local npy_seeds = {
  saved_f32 = npy_saved(luann.tensor({ { 1.5, -2 }, { 0.25, 4 } })),
  saved_i64 = npy_saved(luann.tensor({ 3, 1, 2 }):long()),
  saved_bool = npy_saved(luann.tensor({ true, false })),
  saved_scalar = npy_saved(luann.tensor(2.5):double()),
  saved_empty = npy_saved(luann.zeros(0, 3)),
  fortran_f8 = npy(dict("<f8", "(2, 3)", true), string.pack("<dddddd", 1, 2, 3, 4, 5, 6)),
  big_endian_i2 = npy(dict(">i2", "(3,)"), "\0\1\255\255\128\0"),
  half = npy(dict("<f2", "(2,)"), "\0\60\255\124"),
  unsigned = npy(dict("<u4", "(1,)"), "\255\255\255\255"),
  version2 = npy(dict("<f4", "(1,)"), "\0\0\128\63", 2),
  version3 = npy(dict("<f4", "(1,)"), "\0\0\128\63", 3),
  version4 = npy(dict("<f4", "(1,)"), "\0\0\128\63", 4),
  truncated = npy(dict("<f8", "(4,)"), ("\0"):rep(9)),
  huge_shape = npy(dict("<f4", "(1099511627776, 1099511627776)")),
  empty_huge = npy(dict("<f4", "(0, 1099511627776)")),
  structured = npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n", "\0\0\0\0"),
  object = npy(dict("|O", "(1,)"), ("\0"):rep(8)),
  header_length_lie = "\x93NUMPY\2\0" .. string.pack("<I4", 0xFFFFFFFF) .. dict("<f4", "()"),
}
seeds("npy", npy_seeds)

-- ---- .npz: zip archives of .npy files (Python's zipfile writes them: stored
-- and deflated, as numpy.savez and savez_compressed do) -------------------------
local members = {}
for _, name in ipairs { "saved_f32", "saved_i64", "fortran_f8", "big_endian_i2" } do
  members[#members + 1] = name
end
local function npz(compressed, names, extra)
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p '" .. dir .. "'")
  for _, n in ipairs(names) do write(dir .. "/" .. n .. ".npy", npy_seeds[n]) end
  local out = dir .. "/archive.npz"
  local py = ("import zipfile,sys,os\n"
    .. "z=zipfile.ZipFile(%q,'w',zipfile.%s)\n"
    .. "[z.write(os.path.join(%q,n+'.npy'),n+'.npy') for n in %s]\n%s\nz.close()\n")
    :format(out, compressed and "ZIP_DEFLATED" or "ZIP_STORED", dir,
      #names == 0 and "[]" or "['" .. table.concat(names, "','") .. "']", extra or "")
  write(dir .. "/make.py", py)
  assert(os.execute("python3 '" .. dir .. "/make.py'"))
  local bytes = read(out)
  os.execute("rm -rf '" .. dir .. "'")
  return bytes
end
local plain = npz(false, members)
local deflated = npz(true, members)
local npz_seeds = {
  plain = plain,
  deflated = deflated,
  cut = deflated:sub(1, #deflated // 2),
  not_npy_member = npz(false, { "saved_f32" }, "z.writestr('notes.txt', 'hello')"),
  bad_member = npz(true, { "saved_f32", "truncated" }),
  bomb = npz(true, {}, "z.writestr('zeros.npy', bytes(4000000))"),
  empty = npz(false, {}),
}
os.remove(tmp)
seeds("npz", npz_seeds)
print("make_corpus: wrote fuzz/corpus/{idx,gz,ckpt,safetensors,npy,npz}")
