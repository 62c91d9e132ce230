-- files.lua: damaged checkpoint, IDX, PNG, safetensors and .npy files for
-- luann.load, luann.read_idx, luann.image.load, luann.safetensors.load and
-- luann.numpy.load. The sweep tries a fixed list of them (F.checkpoint_cases,
-- F.idx_cases, F.png_cases, F.safetensors_cases, F.npy_cases); the fuzzer
-- draws them at random from a seed (F.random_checkpoint, F.random_idx,
-- F.random_png, F.random_safetensors, F.random_npy): valid files cut short, with bits
-- flipped, with bytes of the payload damaged and the checksums recomputed
-- around it, or with forged header fields (sizes, counts, dims, version)
-- under a recomputed header CRC, so that the damage reaches every parser
-- behind the checks.
-- usage: local F = dofile("spec/robustness/files.lua")
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local F = {}

-- Damaged payloads are wrapped in valid checksums (spec/forge.lua), so
-- that they reach the parsers behind them.
local forge = dofile(here .. "/../forge.lua")
local gzip, checkpoint = forge.gzip, forge.checkpoint
local P = forge.rec -- payload records

local function nested(depth)
  local r = P.int(1)
  for _ = 1, depth do r = P.table(1, P.int(1), r) end
  return r
end

local valid_payload = P.table(3,
  P.str("w"), P.tensor(0, 1, { 2, 3 }, string.rep("\0\0\128\63", 6)),
  P.int(1), P.tensor(2, 0, { 2 }, string.pack("<i8i8", 7, -7)),
  P.str("x"), P.table(2, P.int(1), P.float(0.5), P.str("b"), "\2"))

-- {description, file bytes} for luann.load.
function F.checkpoint_cases()
  local cases = {
    { "valid", checkpoint(valid_payload) },
    { "empty file", "" },
    { "empty payload", checkpoint("") },
    { "unknown tags", checkpoint("\0") }, { "tag 8", checkpoint("\8") }, { "tag 255", checkpoint("\255") },
    { "cut int", checkpoint("\3\1\2") },
    { "string longer than the file", checkpoint(P.str("ab", 1 << 62)) },
    { "string length 2^64-1", checkpoint(P.str("ab", -1)) },
    { "string one past the end", checkpoint(P.str("ab", 3)) },
    { "tensor dtype 5", checkpoint(P.tensor(5, 0, { 1 }, "\0")) },
    { "tensor dtype 255", checkpoint(P.tensor(255, 0, { 1 }, "\0")) },
    { "tensor ndim 9", checkpoint(P.tensor(0, 0, { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, "\0\0\0\0")) },
    { "tensor ndim 255 claimed", checkpoint(P.tensor(0, 0, { 1 }, "\0\0\0\0", 255)) },
    { "tensor negative size", checkpoint(P.tensor(0, 0, { -1 }, "")) },
    { "tensor sizes overflowing to 0 bytes", checkpoint(P.tensor(0, 0, { 1 << 32, 1 << 32 }, "")) },
    { "tensor sizes overflowing to 16 bytes", checkpoint(P.tensor(0, 0, { (1 << 62) + 1, 4 }, string.rep("\0", 16))) },
    { "tensor 2^40 elements", checkpoint(P.tensor(3, 0, { 1 << 40 }, "")) },
    { "tensor data short", checkpoint(P.tensor(1, 0, { 4 }, string.rep("\0", 31))) },
    { "int64 tensor requiring grad", checkpoint(P.tensor(2, 1, { 1 }, string.rep("\0", 8))) },
    { "tensor unknown flags", checkpoint(P.tensor(0, 254, { 1 }, string.rep("\0", 4))) },
    { "bool tensor holding 7", checkpoint(P.tensor(4, 0, { 2 }, "\7\255")) },
    { "table count 2^62", checkpoint(P.table(1 << 62, P.int(1), P.int(2))) },
    { "table count 2^64-1", checkpoint(P.table(-1, P.int(1), P.int(2))) },
    { "table missing pairs", checkpoint(P.table(2, P.int(1), P.int(2))) },
    { "table tensor key", checkpoint(P.table(1, P.tensor(0, 0, { 1 }, "\0\0\0\0"), P.int(1))) },
    { "table float key", checkpoint(P.table(1, P.float(0 / 0), P.int(1))) },
    { "table table key", checkpoint(P.table(1, P.table(0), P.int(1))) },
    { "table duplicate keys", checkpoint(P.table(2, P.int(1), P.int(1), P.int(1), P.int(2))) },
    { "table extreme int keys", checkpoint(P.table(2, P.int(math.mininteger), "\1", P.int(0), "\2")) },
    { "string key with zeros", checkpoint(P.table(1, P.str("a\0b"), "\2")) },
    { "nested 64", checkpoint(nested(64)) },
    { "nested 10000", checkpoint(nested(10000)) },
    { "data after the root", checkpoint(P.int(1) .. P.int(2)) },
    { "version 2", checkpoint(valid_payload, { version = 2 }) },
    { "flags 1", checkpoint(valid_payload, { flags = 1 }) },
    { "payload size too big", checkpoint(valid_payload, { payload_size = #valid_payload + 1 }) },
    { "payload size too small", checkpoint(valid_payload, { payload_size = 3 }) },
    { "payload size 2^63", checkpoint(valid_payload, { payload_size = 1 << 63 }) },
    { "stored size wrong", checkpoint(valid_payload, { stored_size = 1 }) },
    { "stored size 2^64-1", checkpoint(valid_payload, { stored_size = -1 }) },
    { "bad stream crc", checkpoint(valid_payload, { crc = 1 }) },
  }
  local file = checkpoint(valid_payload)
  for len = 0, #file - 1, 3 do
    cases[#cases + 1] = { "valid file cut at " .. len, file:sub(1, len) }
  end
  for i = 1, #valid_payload do -- each payload byte damaged, checksums fixed
    local b = valid_payload:byte(i)
    for _, v in ipairs { 0, 255, (b + 1) & 255, b ~ 0x80 } do
      local damaged = valid_payload:sub(1, i - 1) .. string.char(v) .. valid_payload:sub(i + 1)
      cases[#cases + 1] = { ("payload byte %d set to %d"):format(i, v), checkpoint(damaged) }
    end
  end
  for i = 1, #file, 7 do -- raw damage: the checksums must catch it
    cases[#cases + 1] = { ("file byte %d flipped"):format(i),
      file:sub(1, i - 1) .. string.char(file:byte(i) ~ 0xFF) .. file:sub(i + 1) }
  end
  return cases
end

-- {description, file bytes} for luann.read_idx.
local function idx(type_code, dims, data, ndim)
  local r = { string.pack(">BBBB", 0, 0, type_code, ndim or #dims) }
  for _, n in ipairs(dims) do r[#r + 1] = string.pack(">I4", n) end
  return table.concat(r) .. (data or "")
end

function F.idx_cases()
  local cases = {
    { "valid", idx(0x08, { 2, 2 }, "\1\2\3\4") },
    { "empty file", "" }, { "3 bytes", "\0\0\8" },
    { "ndim 0", idx(0x08, {}, "") }, { "ndim 9", idx(0x08, { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, "\0") },
    { "ndim 255 claimed", idx(0x08, { 1 }, "\0", 255) },
    { "dims cut short", idx(0x08, { 1 }, "", 3) },
    { "type 0x07", idx(0x07, { 1 }, "\0") },
    { "dims 2^32-1", idx(0x08, { 0xFFFFFFFF }, "") },
    { "dims overflowing int64", idx(0x0E, { 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF }, "") },
    { "dims with a zero", idx(0x0D, { 0, 0xFFFFFFFF }, "") },
    { "data short", idx(0x0C, { 3 }, "\0\0\0\1") },
    { "data long", idx(0x08, { 1 }, "\1\2") },
    { "gz valid", gzip(idx(0x0B, { 2 }, "\0\1\255\255")) },
    { "gz data short", gzip(idx(0x0E, { 2 }, string.rep("\0", 9))) },
    { "gz huge dims", gzip(idx(0x08, { 0x7FFFFFFF, 0x7FFFFFFF }, "\0")) },
    { "gz cut", gzip(idx(0x08, { 4 }, "\1\2\3\4")):sub(1, 20) },
    { "gz garbage after magic", "\x1f\x8b" .. string.rep("\xAA", 40) },
  }
  for _, t in ipairs { 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E } do
    local file = idx(t, { 2, 3 }, string.rep("\1", 48))
    for i = 1, 12 do
      for _, v in ipairs { 0, 255, 0x80, 9 } do
        cases[#cases + 1] = { ("type 0x%02x, header byte %d set to %d"):format(t, i, v),
          file:sub(1, i - 1) .. string.char(v) .. file:sub(i + 1) }
      end
    end
  end
  return cases
end


-- ---- random damaged files, for the fuzzer ------------------------------------

-- `rnd` is math.random after math.randomseed(seed): the same seed draws
-- the same files.
local function choose(rnd, list) return list[rnd(#list)] end

local SIZES = { 0, 1, 2, 3, 7, 1 << 20, 1 << 31, 1 << 32, 1 << 40, 1 << 62, -1, -(1 << 62),
  math.maxinteger, math.mininteger }
local ITEM = { [0] = 4, 8, 8, 1, 1 }

-- Random bytes, n of them.
local function bytes(rnd, n)
  local r = {}
  for i = 1, n do r[i] = string.char(rnd(0, 255)) end
  return table.concat(r)
end

-- One payload value, `depth` levels of tables at most; sizes and counts
-- are sometimes forged, the data behind them then short or missing.
local function random_value(rnd, depth)
  local kind = rnd(depth > 0 and 9 or 7)
  if kind == 1 then return choose(rnd, { "\1", "\2", "\0", "\8", string.char(rnd(0, 255)) }) end
  if kind == 2 then return P.int(choose(rnd, { 0, -1, 1, math.maxinteger, math.mininteger, rnd(-9, 9) })) end
  if kind == 3 then return P.float(choose(rnd, { 0 / 0, math.huge, -math.huge, 0.5, -0.0, 1e308 })) end
  if kind == 4 then
    local s = bytes(rnd, rnd(0, 8))
    return rnd(4) == 1 and P.str(s, choose(rnd, SIZES)) or P.str(s)
  end
  if kind <= 7 then -- a tensor
    local dtype = rnd(8) == 1 and rnd(0, 255) or rnd(0, 4)
    local sizes, numel = {}, 1
    for i = 1, (rnd(6) == 1 and rnd(0, 9) or rnd(0, 3)) do
      sizes[i] = rnd(3) == 1 and choose(rnd, SIZES) or rnd(0, 4)
      numel = numel * sizes[i]
    end
    local n = (numel >= 0 and numel <= 64) and numel * (ITEM[dtype] or 1) or rnd(0, 16)
    if rnd(5) == 1 then n = math.max(0, n + rnd(-3, 3)) end
    local flags = rnd(6) == 1 and rnd(0, 255) or rnd(0, 1)
    return P.tensor(dtype, flags, sizes, bytes(rnd, n), rnd(10) == 1 and rnd(0, 255) or nil)
  end
  local count, pairs_ = rnd(0, 3), {}
  for i = 1, count do
    pairs_[i] = (rnd(2) == 1 and P.int(rnd(-2, 3)) or P.str(bytes(rnd, rnd(0, 3))))
      .. random_value(rnd, depth - 1)
  end
  if rnd(5) == 1 then count = choose(rnd, SIZES) end
  return P.table(count, table.unpack(pairs_))
end

-- Damage to file bytes: a cut, flipped bits, bytes set, bytes dropped or
-- added.
local function damage(rnd, s)
  local how = rnd(5)
  if how == 1 then return s:sub(1, rnd(0, math.max(0, #s - 1))) end
  for _ = 1, rnd(1, 4) do
    if #s == 0 then break end
    local i = rnd(#s)
    if how == 2 then
      s = s:sub(1, i - 1) .. string.char(s:byte(i) ~ (1 << rnd(0, 7))) .. s:sub(i + 1)
    elseif how == 3 then
      s = s:sub(1, i - 1) .. string.char(choose(rnd, { 0, 255, 0x7F, 0x80, rnd(0, 255) })) .. s:sub(i + 1)
    elseif how == 4 then
      s = s:sub(1, i - 1) .. s:sub(i + rnd(1, 8))
    else
      s = s:sub(1, i - 1) .. bytes(rnd, rnd(1, 8)) .. s:sub(i)
    end
  end
  return s
end

local png = forge.png

-- {description, file bytes} for luann.image.load.
function F.png_cases()
  local palette = "\255\0\0\0\255\0"
  local cases = {
    { "valid RGB", png {} }, { "valid gray 1-bit", png { color_type = 0, bit_depth = 1, width = 9 } },
    { "valid palette", png { color_type = 3, palette = palette, trns = "\0" } },
    { "valid 16-bit RGBA", png { color_type = 6, bit_depth = 16, width = 5, height = 3 } },
    { "interlaced, data for a plain image", png { color_type = 6, bit_depth = 16, width = 5, height = 3, interlace = 1 } },
    { "empty file", "" }, { "signature only", "\137PNG\r\n\26\n" },
    { "width 0", png { width = 0 } }, { "height 0", png { height = 0 } },
    { "width 2^31", png { width = 1 << 31, idat = forge.zlib("\0") } },
    { "width 2^32-1", png { width = 0xFFFFFFFF, idat = forge.zlib("\0") } },
    { "2^30 x 2^30", png { width = 1 << 30, height = 1 << 30, idat = forge.zlib("\0") } },
    { "10^6 x 10^6 RGBA", png { width = 1000000, height = 1000000, color_type = 6, idat = forge.zlib("\0") } },
    { "16384 x 16384 gray, no data", png { width = 16384, height = 16384, color_type = 0, idat = forge.zlib("\0") } },
    { "bit depth 3", png { bit_depth = 3 } }, { "bit depth 16 palette", png { color_type = 3, bit_depth = 16, palette = palette } },
    { "color type 5", png { color_type = 5 } }, { "color type 255", png { color_type = 255 } },
    { "interlace 2", png { interlace = 2 } }, { "filter method 1", png { filter = 1 } },
    { "compression method 1", png { compression = 1 } },
    { "bad IHDR CRC", png { ihdr_crc = 1 } },
    { "palette image without PLTE", png { color_type = 3 } },
    { "palette index past PLTE", png { color_type = 3, palette = "\1\2\3", raw = "\0\200\200\0\7\7" } },
    { "tRNS longer than PLTE", png { color_type = 3, palette = palette, trns = "\1\2\3\4" } },
    { "PLTE of 1000 bytes", png { color_type = 3, palette = string.rep("\1", 1000) } },
    { "scanline filter 5", png { raw = "\5\0\0\0\0\0\0\5\0\0\0\0\0\0" } },
    { "image data short", png { raw = "\0\0\0" } },
    { "image data long", png { raw = string.rep("\0", 100) } },
    { "zlib checksum wrong", png { idat = forge.zlib(string.rep("\0", 14), 1) } },
    { "IDAT not zlib", png { idat = "garbage" } }, { "IDAT empty", png { idat = "" } },
    { "no IEND", png { iend = false } },
    { "chunk length 2^31-1", "\137PNG\r\n\26\n" .. string.pack(">I4", 0x7FFFFFFF) .. "IHDR" .. string.rep("\0", 30) },
    { "unknown critical chunk", "\137PNG\r\n\26\n" .. forge.png_chunk("ABCD", "x") .. png {}:sub(9) },
    { "zTXt bomb", png {}:sub(1, 33) .. forge.png_chunk("zTXt", "k\0\0" .. forge.zlib(string.rep("a", 1 << 20)))
      .. png {}:sub(34) },
  }
  local file = png { width = 3, height = 2, color_type = 6 }
  for len = 0, #file - 1, 3 do
    cases[#cases + 1] = { "valid file cut at " .. len, file:sub(1, len) }
  end
  for i = 9, 33 do -- the header's bytes, the header's CRC left as it was
    for _, v in ipairs { 0, 255, 0x80 } do
      cases[#cases + 1] = { ("header byte %d set to %d"):format(i, v),
        file:sub(1, i - 1) .. string.char(v) .. file:sub(i + 1) }
    end
  end
  return cases
end

--- A random checkpoint file: a random payload, valid or damaged, wrapped in
-- valid checksums, or with header fields forged under a recomputed header
-- CRC, or damaged after wrapping (the checksums must catch that).
-- @return the file's bytes, a short description
function F.random_checkpoint(rnd)
  local payload = rnd(4) == 1 and valid_payload or random_value(rnd, rnd(0, 3))
  local how = rnd(4)
  if how == 1 then return checkpoint(payload), "random payload" end
  if how == 2 then return checkpoint(damage(rnd, payload)), "damaged payload, checksums fixed" end
  if how == 3 then
    local o = {}
    local field = choose(rnd, { "version", "flags", "payload_size", "stored_size", "crc" })
    o[field] = choose(rnd, { 0, 1, 2, 0xFFFFFFFF, 1 << 31, #payload + rnd(-2, 2) })
    if field == "payload_size" or field == "stored_size" then
      o[field] = choose(rnd, { 0, 1, -1, 1 << 40, 1 << 62, #payload * 1100, #payload + rnd(-2, 2) })
    end
    return checkpoint(payload, o), "forged " .. field .. ", header CRC fixed"
  end
  return damage(rnd, checkpoint(payload)), "file damaged"
end

local IDX_TYPES = { 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E }
local IDX_ITEM = { [0x08] = 1, [0x09] = 1, [0x0B] = 2, [0x0C] = 4, [0x0D] = 4, [0x0E] = 8 }
local IDX_DIMS = { 0, 1, 2, 3, 255, 65536, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 20 }

--- A random IDX file, plain or gzip (stored blocks, valid checksums): a
-- random type and dims, data exact, short or long, damaged before or after
-- the gzip wrapping.
-- @return the file's bytes, a short description
function F.random_idx(rnd)
  local t = rnd(8) == 1 and rnd(0, 255) or choose(rnd, IDX_TYPES)
  local dims, numel = {}, 1
  for i = 1, (rnd(8) == 1 and rnd(0, 9) or rnd(1, 3)) do
    dims[i] = rnd(3) == 1 and choose(rnd, IDX_DIMS) or rnd(0, 5)
    numel = numel * dims[i]
  end
  local n = (numel >= 0 and numel <= 256) and numel * (IDX_ITEM[t] or 1) or rnd(0, 64)
  if rnd(4) == 1 then n = math.max(0, n + rnd(-4, 4)) end
  local file = idx(t, dims, bytes(rnd, n), rnd(10) == 1 and rnd(0, 255) or nil)
  local desc = "idx"
  if rnd(3) == 1 then file, desc = damage(rnd, file), desc .. " damaged" end
  if rnd(5) <= 2 then file, desc = gzip(file), desc .. " in gzip" end
  if rnd(6) == 1 then file, desc = damage(rnd, file), desc .. " damaged after" end
  return file, desc
end

local PNG_DEPTHS = { [0] = { 1, 2, 4, 8, 16 }, [2] = { 8, 16 }, [3] = { 1, 2, 4, 8 }, [4] = { 8, 16 }, [6] = { 8, 16 } }
local PNG_SIDES = { 0, 1, 2, 7, 1000000, 1000001, 1 << 30, 0x7FFFFFFF, 0xFFFFFFFF }

--- A random PNG file: a random header (valid type and depth mostly),
-- random scanlines (any filter bytes) of the right length or not, an
-- optional palette and tRNS, damaged after wrapping now and then.
-- @return the file's bytes, a short description
function F.random_png(rnd)
  local ctype = rnd(8) == 1 and rnd(0, 255) or choose(rnd, { 0, 2, 3, 4, 6 })
  local depths = PNG_DEPTHS[ctype] or { 8 }
  local o = { color_type = ctype, bit_depth = rnd(8) == 1 and rnd(0, 255) or choose(rnd, depths),
    width = rnd(6) == 1 and choose(rnd, PNG_SIDES) or rnd(1, 9),
    height = rnd(6) == 1 and choose(rnd, PNG_SIDES) or rnd(1, 9),
    interlace = rnd(10) == 1 and 1 or 0 }
  local channels = ({ [0] = 1, [2] = 3, [3] = 1, [4] = 2, [6] = 4 })[ctype] or 1
  local row = (channels * o.bit_depth * math.min(o.width, 16) + 7) // 8
  local rows = {} -- filter bytes valid mostly, so that the data is unfiltered
  for y = 1, math.min(o.height, 16) do
    rows[y] = string.char(rnd(10) == 1 and rnd(0, 255) or rnd(0, 4)) .. bytes(rnd, row)
  end
  o.raw = table.concat(rows)
  if rnd(4) == 1 then o.raw = o.raw:sub(1, math.max(0, #o.raw + rnd(-8, 0))) .. bytes(rnd, rnd(0, 8)) end
  if ctype == 3 or rnd(8) == 1 then o.palette = bytes(rnd, 3 * rnd(0, 300) + (rnd(8) == 1 and 1 or 0)) end
  if rnd(4) == 1 then o.trns = bytes(rnd, rnd(0, 8)) end
  local file, desc = png(o), ("png %dx%d type %d depth %d"):format(o.width, o.height, ctype, o.bit_depth)
  if rnd(4) == 1 then file, desc = damage(rnd, file), desc .. " damaged" end
  return file, desc
end

-- ---- safetensors and .npy ------------------------------------------------------

local ST_DTYPES = { "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U32", "U16", "U8",
  "BOOL", "U64", "F8_E4M3", "X", "" }
local ST_SIZE = { F64 = 8, F32 = 4, F16 = 2, BF16 = 2, I64 = 8, I32 = 4, I16 = 2, I8 = 1,
  U32 = 4, U16 = 2, U8 = 1, BOOL = 1, U64 = 8, F8_E4M3 = 1 }
local JSON_NUMBERS = { "0", "1", "-1", "1.5", "1e3", "4294967296", "1099511627776",
  "9007199254740993", "18446744073709551616", "1e400", "null", '"2"', "[]" }

local function st_file(header, data)
  return string.pack("<I8", #header) .. header .. (data or "")
end

local function st_entry(name, dtype, shape, b, e)
  return ('"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%s,%s]}'):format(name, dtype,
    table.concat(shape, ","), b, e)
end

local st_valid = st_file("{" .. st_entry("a", "F32", { 2 }, 0, 8) .. ","
  .. st_entry("b", "I8", { 2, 2 }, 8, 12) .. ',"__metadata__":{"format":"pt"}}',
  string.pack("<ff", 1, 2) .. "\1\2\3\4")

-- {description, file bytes} for luann.safetensors.load.
function F.safetensors_cases()
  local cases = {
    { "valid", st_valid }, { "empty file", "" }, { "empty header", st_file("{}") },
    { "header length 2^63", string.pack("<I8", 1 << 63) .. "{}" },
    { "header length past the file", string.pack("<I8", 100) .. "{}" },
    { "not JSON", st_file("{x}") }, { "JSON array", st_file("[]") },
    { "not UTF-8", st_file('{"\255":1}') }, { "overlong UTF-8", st_file('{"\192\129":1}') },
    { "overlap", st_file("{" .. st_entry("a", "U8", { 2 }, 0, 2) .. "," .. st_entry("b", "U8", { 2 }, 1, 3) .. "}", "abc") },
    { "offsets past the end", st_file("{" .. st_entry("a", "F64", { 2 }, 0, 16) .. "}", "12345678") },
    { "begin after end", st_file("{" .. st_entry("a", "U8", { 0 }, 4, 0) .. "}", "1234") },
    { "U64", st_file("{" .. st_entry("a", "U64", { 1 }, 0, 8) .. "}", "12345678") },
    { "unknown dtype", st_file("{" .. st_entry("a", "Q8", { 1 }, 0, 1) .. "}", "1") },
    { "shape 2^40 x 2^40", st_file("{" .. st_entry("a", "U8", { 1 << 40, 1 << 40 }, 0, 1) .. "}", "1") },
    { "empty shape 0 x 2^40", st_file("{" .. st_entry("a", "F64", { 0, 1 << 40 }, 0, 0) .. "}") },
    { "nine dims", st_file("{" .. st_entry("a", "U8", { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, 0, 1) .. "}", "1") },
    { "deep JSON", st_file('{"a":' .. ("["):rep(5000) .. ("]"):rep(5000) .. "}") },
    { "duplicate names", st_file("{" .. st_entry("a", "U8", { 1 }, 0, 1) .. "," .. st_entry("a", "U8", { 1 }, 1, 2) .. "}", "12") },
  }
  for _, n in ipairs(JSON_NUMBERS) do
    cases[#cases + 1] = { "shape [" .. n .. "]", st_file('{"a":{"dtype":"U8","shape":[' .. n
      .. '],"data_offsets":[0,1]}}', "1") }
    cases[#cases + 1] = { "offset " .. n, st_file('{"a":{"dtype":"U8","shape":[1],"data_offsets":['
      .. n .. ',1]}}', "1") }
  end
  for len = 0, #st_valid - 1, 5 do
    cases[#cases + 1] = { "valid file cut at " .. len, st_valid:sub(1, len) }
  end
  return cases
end

local function npy(header, data, version)
  version = version or 1
  local len = version == 1 and string.pack("<I2", #header % 65536) or string.pack("<I4", #header)
  return "\x93NUMPY" .. string.char(version, 0) .. len .. header .. (data or "")
end

local function npy_dict(descr, shape, fortran)
  return ("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }\n"):format(descr,
    fortran and "True" or "False", shape)
end

local NPY_DESCRS = { "<f2", "<f4", ">f8", "<i1", ">i2", "<i4", "<i8", "|u1", "<u2", ">u4", "|b1",
  "<u8", "<c8", "|O", "<U3", "|V4", "<f3", "", "<<f4" }
local NPY_SHAPES = { "()", "(0,)", "(3,)", "(2, 3)", "(1,1,1,1,1,1,1,1,1)", "(1099511627776, 1099511627776)",
  "(0, 1099511627776)", "(-1,)", "(2,", "[2]", "(99999999999999999999,)" }

-- {description, file bytes} for luann.numpy.load.
function F.npy_cases()
  local valid = npy(npy_dict("<f4", "(2,)"), string.pack("<ff", 1, 2))
  local cases = { { "valid", valid }, { "empty file", "" }, { "magic only", "\x93NUMPY" },
    { "version 2", npy(npy_dict("<f4", "(2,)"), string.pack("<ff", 1, 2), 2) },
    { "version 9", npy(npy_dict("<f4", "(2,)"), string.pack("<ff", 1, 2), 9) },
    { "fortran", npy(npy_dict("<f4", "(2, 2)", true), string.pack("<ffff", 1, 2, 3, 4)) },
    { "header length past the file", "\x93NUMPY\2\0\255\255\255\255{}" },
    { "not a dict", npy("[1, 2]") }, { "keys missing", npy("{'descr': '<f4'}") },
    { "key twice", npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}") } }
  for _, d in ipairs(NPY_DESCRS) do
    for _, sh in ipairs(NPY_SHAPES) do
      cases[#cases + 1] = { ("descr %s shape %s"):format(d, sh), npy(npy_dict(d, sh), ("\1"):rep(24)) }
    end
  end
  for len = 0, #valid - 1, 4 do
    cases[#cases + 1] = { "valid file cut at " .. len, valid:sub(1, len) }
  end
  return cases
end

--- A random safetensors file: random entries (dtypes, shapes and offsets
-- honest mostly, forged sometimes) over random data, damaged now and then.
-- @return the file's bytes, a short description
function F.random_safetensors(rnd)
  local entries, at, data = {}, 0, {}
  for i = 1, rnd(0, 4) do
    local dtype = choose(rnd, ST_DTYPES)
    local shape, numel = {}, 1
    for d = 1, (rnd(8) == 1 and rnd(0, 9) or rnd(0, 3)) do
      shape[d] = rnd(6) == 1 and choose(rnd, SIZES) or rnd(0, 4)
      numel = numel * shape[d]
    end
    local n = (numel >= 0 and numel <= 64) and numel * (ST_SIZE[dtype] or 1) or rnd(0, 16)
    local b, e = at, at + n
    if rnd(6) == 1 then b = choose(rnd, { 0, at + 1, -1, 1 << 53, 1 << 62 }) end
    if rnd(6) == 1 then e = choose(rnd, { 0, e + 1, e - 1, 1 << 40 }) end
    local name = rnd(10) == 1 and bytes(rnd, rnd(0, 3)):gsub('[%c"\\]', "x") or ("t" .. i)
    entries[#entries + 1] = st_entry(name, dtype, shape, b, e)
    data[#data + 1] = bytes(rnd, math.max(0, n))
    at = at + n
  end
  if rnd(3) == 1 then entries[#entries + 1] = '"__metadata__":{"format":"pt"}' end
  local file = st_file("{" .. table.concat(entries, ",") .. "}", table.concat(data))
  local desc = "safetensors"
  if rnd(3) == 1 then file, desc = damage(rnd, file), desc .. " damaged" end
  return file, desc
end

--- A random .npy file: a random descr and shape, data exact or not.
-- @return the file's bytes, a short description
function F.random_npy(rnd)
  local file = npy(npy_dict(choose(rnd, NPY_DESCRS), choose(rnd, NPY_SHAPES), rnd(4) == 1),
    bytes(rnd, rnd(0, 48)), rnd(5) == 1 and rnd(0, 4) or 1)
  local desc = "npy"
  if rnd(3) == 1 then file, desc = damage(rnd, file), desc .. " damaged" end
  return file, desc
end

return F
