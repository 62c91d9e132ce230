--- luann.safetensors: safetensors files, the format most published weights
-- come in (Hugging Face's; a JSON header and raw little-endian data).
--
--    local sd, metadata = luann.safetensors.load("model.safetensors")
--    model:load_state_dict(sd)
--    luann.safetensors.save("model.safetensors", model:state_dict(), {format = "pt"})
--
-- Dtypes: F32, F64, I64, U8 and BOOL load as they are, F16 and BF16 as
-- float32, I8, I16, I32, U16 and U32 as int64; any other is an error
-- naming it and the tensor. Saving writes luann's dtypes as they are.
-- Large tensors of a file load memory-mapped (copy-on-write: changing them
-- never changes the file), so loading costs about the file's size in
-- memory once. The reader checks every offset, size and name against the
-- file; errors name it. The header is parsed by cJSON.
--
-- Numbering (see luann.numbering): a file whose metadata says format =
-- "pt" comes from PyTorch, which numbers the children of Sequential and
-- ModuleList from 0; load shifts those numbers to luann's (from 1), so
-- "0.weight" loads as "1.weight". save with metadata {format = "pt"} shifts
-- them back and writes that metadata, so PyTorch reads the file as its own.
-- @module luann.safetensors
local luann = require "luann"
local numbering = require "luann.numbering"

local C = luann._formats_module()

local check = require "luann.utils.check"
local call = check.call
local safetensors = {}

local NUMBERINGS = { pytorch = true, luann = true }

local function is_module(v)
  local mt = getmetatable(v)
  return type(v) == "table" and type(mt) == "table" and rawget(mt, "__luann_module") == true
end

--- Loads a file's tensors (on the CPU) and its metadata.
-- @param path the file
-- @param opts optional {numbering = "pytorch" | "luann"}: whose numbers the
--   file's keys hold, when its metadata does not say (format = "pt" means
--   PyTorch's)
-- @return a table name -> tensor, and a table of the metadata's strings
-- @usage local sd, meta = luann.safetensors.load("model.safetensors")
function safetensors.load(path, opts)
  if type(path) ~= "string" then
    check.error("safetensors.load: bad argument #1 (file path expected, got " .. type(path) .. ")", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    check.error("safetensors.load: bad argument #2 (options table expected, got " .. type(opts) .. ")", 2)
  end
  local which = opts and opts.numbering
  if which ~= nil and not NUMBERINGS[which] then
    check.error(("safetensors.load: numbering must be \"pytorch\" or \"luann\", got %s"):format(tostring(which)), 2)
  end
  local tensors, metadata = call(C.safetensors_read, path)
  which = which or (metadata.format == "pt" and "pytorch" or "luann")
  if which == "pytorch" then tensors = numbering.from_pytorch(tensors) end
  return tensors, metadata
end

--- Writes tensors and metadata to a file, atomically (a temp file renamed
-- over path).
-- @param path the file
-- @param tensors a table name -> tensor (a state_dict)
-- @param metadata optional table of string -> string; format = "pt" also
--   writes the keys in PyTorch's numbering (from 0)
-- @usage luann.safetensors.save("model.safetensors", model:state_dict(), {format = "pt"})
function safetensors.save(path, tensors, metadata)
  if type(path) ~= "string" then
    check.error("safetensors.save: bad argument #1 (file path expected, got " .. type(path) .. ")", 2)
  end
  if is_module(tensors) then
    check.error("safetensors.save: cannot save a Module; save its state_dict() instead: "
      .. "luann.safetensors.save(path, model:state_dict())", 2)
  end
  if type(tensors) ~= "table" then
    check.error("safetensors.save: bad argument #2 (table of tensors expected, got " .. type(tensors) .. ")", 2)
  end
  if metadata ~= nil and type(metadata) ~= "table" then
    check.error("safetensors.save: bad argument #3 (metadata table expected, got " .. type(metadata) .. ")", 2)
  end
  if metadata and metadata.format == "pt" then tensors = numbering.to_pytorch(tensors) end
  call(C.safetensors_write, path, tensors, metadata)
end

return safetensors
