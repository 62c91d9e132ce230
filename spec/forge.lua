-- forge.lua: luann's file formats written by hand, for the specs and
-- fuzzers that need damaged files whose checksums are still valid, so that
-- the damage reaches the parsers behind them: zlib and gzip streams of
-- stored (uncompressed) deflate blocks, checkpoint files
-- (core/checkpoint.c's FORMAT) with records and header fields to forge,
-- and PNG files with any header, chunks and image data.
-- Loads with require "forge" (busted) or dofile("spec/forge.lua").
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
local checksums = dofile(here .. "/checksums.lua")
local crc32, adler32 = checksums.crc32, checksums.adler32

local forge = {}

-- data as a run of stored deflate blocks (at least one, the last final)
local function stored_blocks(data)
  local parts, at = {}, 1
  repeat
    local piece = data:sub(at, at + 65534)
    at = at + #piece
    local final = at > #data and 1 or 0
    parts[#parts + 1] = string.pack("<BI2I2", final, #piece, (~#piece) & 0xFFFF) .. piece
  until at > #data
  return table.concat(parts)
end

--- A zlib stream (RFC 1950) of data; adler forges its checksum.
function forge.zlib(data, adler)
  return "\x78\x01" .. stored_blocks(data) .. string.pack(">I4", adler or adler32(data))
end

--- A gzip member (RFC 1952) of data.
function forge.gzip(data)
  return "\x1f\x8b\x08\x00\0\0\0\0\0\xff" .. stored_blocks(data)
    .. string.pack("<I4I4", crc32(data), #data & 0xFFFFFFFF)
end

--- A checkpoint file around a payload. o may forge version, flags,
-- payload_size, stored_size, crc (of the stream) and adler (inside it);
-- the header's own CRC is always right.
function forge.checkpoint(payload, o)
  o = o or {}
  local stored = forge.zlib(payload, o.adler)
  local u32 = 0xFFFFFFFF
  local header = "LUANNCKP" .. string.pack("<I4I4I8I8I4", (o.version or 1) & u32,
    (o.flags or 0) & u32, o.payload_size or #payload, o.stored_size or #stored,
    (o.crc or crc32(stored)) & u32)
  return header .. string.pack("<I4", crc32(header)) .. stored
end

--- A PNG chunk; crc forges its CRC.
function forge.png_chunk(kind, body, crc)
  return string.pack(">I4", #body) .. kind .. body .. string.pack(">I4", crc or crc32(kind .. body))
end

local PNG_CHANNELS = { [0] = 1, [2] = 3, [3] = 1, [4] = 2, [6] = 4 }

--- A PNG file from o: width, height (2), bit_depth (8), color_type (2),
-- interlace, compression and filter (the IHDR's methods, 0); palette and
-- trns (chunk bodies); raw (the filtered scanlines, by default rows of
-- zeros behind filter 0, for small sizes only) or idat (the whole IDAT
-- body); ihdr_crc forges the header's CRC; iend = false leaves IEND out.
function forge.png(o)
  o = o or {}
  local w, h = o.width or 2, o.height or 2
  local depth, ctype = o.bit_depth or 8, o.color_type or 2
  local u32 = 0xFFFFFFFF
  local ihdr = string.pack(">I4I4BBBBB", w & u32, h & u32, depth, ctype,
    o.compression or 0, o.filter or 0, o.interlace or 0)
  local raw = o.raw
  if not raw and not o.idat then
    local row = 1 + ((PNG_CHANNELS[ctype] or 1) * depth * w + 7) // 8
    raw = string.rep("\0", row * h)
  end
  local file = { "\137PNG\r\n\26\n", forge.png_chunk("IHDR", ihdr, o.ihdr_crc) }
  if o.palette then file[#file + 1] = forge.png_chunk("PLTE", o.palette) end
  if o.trns then file[#file + 1] = forge.png_chunk("tRNS", o.trns) end
  file[#file + 1] = forge.png_chunk("IDAT", o.idat or forge.zlib(raw))
  if o.iend ~= false then file[#file + 1] = forge.png_chunk("IEND", "") end
  return table.concat(file)
end

--- Payload records; len and ndim forge a string's length or a tensor's
-- dim count, and a table record is followed by its key-value records.
forge.rec = {
  bool = function(b) return string.char(b and 2 or 1) end,
  int = function(v) return string.pack("<Bi8", 3, v) end,
  float = function(v) return string.pack("<Bd", 4, v) end,
  str = function(v, len) return string.pack("<BI8", 5, len or #v) .. v end,
  tensor = function(dtype, flags, sizes, data, ndim)
    local r = { string.pack("<BBBB", 6, dtype, flags, ndim or #sizes) }
    for _, n in ipairs(sizes) do r[#r + 1] = string.pack("<i8", n) end
    return table.concat(r) .. (data or "")
  end,
  table = function(count, ...) return string.pack("<BI8", 7, count) .. table.concat({ ... }) end,
}

return forge
