--- luann.numpy: NumPy's .npy and .npz files.
--
--    local t = luann.numpy.load("x.npy")         -- a tensor
--    local arrays = luann.numpy.load("w.npz")    -- {name = tensor}
--    luann.numpy.save("y.npy", t)
--
-- .npy: format versions 1 to 3, either byte order, row-major (C) or
-- column-major (Fortran) data; the tensor is row-major either way. float16
-- loads as float32; int8, int16, int32, uint16 and uint32 as int64; other
-- dtypes (uint64, complex, strings, objects, structured) are errors. save
-- writes version 1 (2 for a header that needs it), row-major, in luann's
-- dtype, as numpy.save does.
-- .npz: numpy.savez and numpy.savez_compressed archives, read through
-- libzip; array "w" is member "w.npy". Readers check every size against the
-- file, and errors name it.
-- @module luann.numpy
local luann = require "luann"

local C = luann._formats_module()

local check = require "luann.utils.check"
local call = check.call
local numpy = {}

--- Loads a .npy file as a tensor, or a .npz archive (told by its first
-- bytes, as numpy.load does) as a table of tensors.
-- @param path the file
-- @return a tensor, or a table name -> tensor
function numpy.load(path)
  if type(path) ~= "string" then
    check.error("numpy.load: bad argument #1 (file path expected, got " .. type(path) .. ")", 2)
  end
  local f = io.open(path, "rb")
  local head = f and f:read(4)
  if f then f:close() end
  local read = (head == "PK\3\4" or head == "PK\5\6") and C.npz_read or C.npy_read
  local value = call(read, path)
  return value
end

--- Writes a tensor as a .npy file, atomically.
-- @param path the file
-- @param t a tensor (any device, any strides)
function numpy.save(path, t)
  if type(path) ~= "string" then
    check.error("numpy.save: bad argument #1 (file path expected, got " .. type(path) .. ")", 2)
  end
  if not luann.is_tensor(t) then
    check.error("numpy.save: bad argument #2 (tensor expected, got " .. type(t) .. ")", 2)
  end
  call(C.npy_write, path, t)
end

return numpy
