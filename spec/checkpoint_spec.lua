-- checkpoint_spec.lua: luann.save / luann.load (core/checkpoint.c,
-- bindings/lio.c). Round trips of every value kind; damaged files; files
-- forged with valid checksums (a zlib stream of stored blocks, CRC-32 and
-- Adler-32 computed here) to reach the parser's size checks; and a save
-- killed with SIGKILL before its rename, which must leave the old file.
local luann = require "luann"

local build = os.getenv("LUANN_BUILD") or "build"

-- ---- files and processes ---------------------------------------------------

local helpers = require "helpers"
local read_file, write_file = helpers.read_file, helpers.write_file
local exists = helpers.exists

local function shell(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

local dir = shell("mktemp -d"):gsub("%s+$", "")
local function path_of(name) return dir .. "/" .. name end

local function listing()
  local names = {}
  for name in shell("ls -A '" .. dir .. "'"):gmatch("[^\n]+") do names[#names + 1] = name end
  table.sort(names)
  return names
end

local function err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok)
  return err
end

local function escape(s) return (s:gsub("%p", "%%%0")) end

-- ---- a checkpoint forger (the format of core/checkpoint.c) -----------------

local crc32 = require("checksums").crc32
local forge, rec = require("forge").checkpoint, require("forge").rec

local function load_forged(payload, o)
  local p = path_of("forged.ckp")
  write_file(p, forge(payload, o))
  return luann.load(p)
end

local function forged_error(payload, o)
  local p = path_of("forged.ckp")
  write_file(p, forge(payload, o))
  return err_of(luann.load, p)
end

local function corrupt(what)
  return "load: " .. path_of("forged.ckp") .. ": corrupt checkpoint (" .. what .. ")"
end

-- ---- round trips -------------------------------------------------------------

local function round_trip(value, name)
  local p = path_of(name or "rt.ckp")
  luann.save(p, value)
  return luann.load(p)
end

local function same_tensor(a, b)
  assert.equal(a.dtype, b.dtype)
  assert.same(a.shape, b.shape)
  assert.same(a:tolist(), b:tolist())
end

describe("checkpoint", function()
  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

  describe("save and load", function()
    it("round-trips tensors of every dtype exactly", function()
      local cases = {
        float32 = { 1.5, -2.25, 3e38, 1e-45, 0 },
        float64 = { math.pi, -1e-300, 1e308, 5e-324, -0.5 },
        int64 = { math.maxinteger, math.mininteger, 0, -1, 42 },
        uint8 = { 0, 255, 7, 128, 1 },
        bool = { true, false, true, true, false },
      }
      for dt, values in pairs(cases) do
        local t = luann.tensor(values, { dtype = dt })
        same_tensor(t, round_trip(t))
      end
    end)

    it("saves strided and offset views as contiguous copies", function()
      local base = luann.arange(24, { dtype = "float64" }):view(2, 3, 4)
      local views = {
        base:transpose(1, 3),
        base:permute(3, 1, 2):narrow(1, 2, 2),
        base:select(2, 3),
        base:narrow(3, 2, 2):transpose(2, 3),
        luann.tensor({ 1, 2, 3 }, { dtype = "int64" }):view(3, 1):expand(3, 4),
      }
      for _, v in ipairs(views) do
        local back = round_trip(v)
        same_tensor(v, back)
        -- an independent copy: changing it leaves the source alone
        back:fill_(-7)
        assert.are_not.same(v:tolist(), back:tolist())
      end
    end)

    it("round-trips 0-dim, empty and larger tensors", function()
      same_tensor(luann.tensor(3.5), round_trip(luann.tensor(3.5)))
      local e = round_trip(luann.zeros(0, 3, { dtype = "int64" }))
      assert.same({ 0, 3 }, e.shape)
      assert.equal("int64", e.dtype)
      luann.manual_seed(7)
      local big = luann.randn(300, 200)
      same_tensor(big, round_trip(big))
    end)

    it("keeps requires_grad of float tensors, as leaves without history", function()
      local x = luann.randn(3, { requires_grad = true })
      local y = x * 2
      local back = round_trip({ x = x, y = y, z = luann.ones(2) })
      assert.is_true(back.x.requires_grad)
      assert.is_true(back.x.is_leaf)
      assert.is_true(back.y.requires_grad)
      assert.is_true(back.y.is_leaf)
      assert.is_nil(back.y.grad_fn)
      assert.is_false(back.z.requires_grad)
      same_tensor(y:detach(), back.y:detach())
    end)

    it("keeps integers and floats apart, with their extreme values", function()
      local v = round_trip({ math.maxinteger, math.mininteger, 0, -1, 1.0, 0.1,
        -0.0, math.huge, -math.huge, 0 / 0, 5e-324, 2 ^ 53 })
      assert.same({ "integer", "integer", "integer", "integer", "float", "float",
        "float", "float", "float", "float", "float", "float" },
        (function()
          local types = {}
          for i = 1, 12 do types[i] = math.type(v[i]) end
          return types
        end)())
      assert.equal(math.maxinteger, v[1])
      assert.equal(math.mininteger, v[2])
      assert.equal(1.0, v[5])
      assert.equal(0.1, v[6])
      assert.equal(-math.huge, 1 / v[7])
      assert.equal(math.huge, v[8])
      assert.equal(-math.huge, v[9])
      assert.is_true(v[10] ~= v[10])
      assert.equal(5e-324, v[11])
      assert.equal(2 ^ 53, v[12])
    end)

    it("round-trips strings (any bytes) and booleans", function()
      local all = {}
      for i = 0, 255 do all[#all + 1] = string.char(i) end
      local s = { "", "a\0b", table.concat(all), string.rep("xyz", 40000), true, false }
      local back = round_trip(s)
      assert.same(s, back)
      assert.equal("a\0b", back[2])
      assert.equal("string", type(round_trip("plain")))
      assert.is_false(round_trip(false))
      assert.equal(12, round_trip(12))
    end)

    it("round-trips nested tables with string and integer keys", function()
      local value = {
        model = { weight = luann.ones(2, 3), bias = luann.zeros(3), layers = { 1, 2, { deep = "yes" } } },
        optim = { step = 10, lr = 1e-3, betas = { 0.9, 0.999 }, amsgrad = false },
        [7] = "seven", [-3] = "negative", [0] = "zero", empty = {},
        ["key with spaces"] = { ["\0"] = 1 },
      }
      local back = round_trip(value)
      same_tensor(value.model.weight, back.model.weight)
      same_tensor(value.model.bias, back.model.bias)
      assert.same({ 1, 2, { deep = "yes" } }, back.model.layers)
      assert.same(value.optim, back.optim)
      assert.equal("seven", back[7])
      assert.equal("negative", back[-3])
      assert.equal("zero", back[0])
      assert.same({}, back.empty)
      assert.same({ ["\0"] = 1 }, back["key with spaces"])
    end)

    it("saves a tensor referenced twice as two copies", function()
      local t = luann.ones(2)
      local back = round_trip({ a = t, b = t })
      back.a:fill_(5)
      assert.same({ 1, 1 }, back.b:tolist())
    end)

    it("nests tables up to 64 deep", function()
      local t = { "leaf" }
      for _ = 2, 64 do t = { t } end
      local back = round_trip(t)
      for _ = 2, 64 do back = back[1] end
      assert.same({ "leaf" }, back)
    end)

    it("writes the same bytes for the same value, whatever the insertion order", function()
      local a, b = {}, {}
      for i = 1, 50 do a["k" .. i] = i; a[i * 3] = "v" .. i end
      for i = 50, 1, -1 do b[i * 3] = "v" .. i; b["k" .. i] = i end
      luann.save(path_of("a.ckp"), a)
      luann.save(path_of("b.ckp"), b)
      assert.equal(read_file(path_of("a.ckp")), read_file(path_of("b.ckp")))
    end)

    it("takes a compression level", function()
      local t = luann.zeros(100000)
      luann.save(path_of("c0.ckp"), t, { compression = 0 })
      luann.save(path_of("c9.ckp"), t, { compression = 9 })
      assert.is_true(#read_file(path_of("c0.ckp")) > 400000)
      assert.is_true(#read_file(path_of("c9.ckp")) < 2000)
      same_tensor(t, luann.load(path_of("c0.ckp")))
      assert.equal("save: compression must be an integer from 0 to 9, got 10",
        err_of(luann.save, path_of("c.ckp"), t, { compression = 10 }))
    end)

    it("writes the documented header", function()
      luann.save(path_of("h.ckp"), { a = 1 })
      local bytes = read_file(path_of("h.ckp"))
      local magic, version, flags, psize, ssize, crc = string.unpack("<c8I4I4I8I8I4", bytes)
      assert.equal("LUANNCKP", magic)
      assert.equal(1, version)
      assert.equal(0, flags)
      assert.equal(1 + 8 + 1 + 8 + 1 + 1 + 8, psize) -- table(1), "a", 1
      assert.equal(#bytes - 40, ssize)
      assert.equal(crc32(bytes:sub(41)), crc)
      assert.equal(crc32(bytes:sub(1, 36)), string.unpack("<I4", bytes, 37))
    end)
  end)

  describe("save errors", function()
    local p = path_of("err.ckp")

    it("names the key path of a value that cannot be saved", function()
      assert.equal("save: cannot save a function (at model.layers[2].forward)",
        err_of(luann.save, p, { model = { layers = { {}, { forward = print } } } }))
      assert.equal("save: cannot save a function (at [\"my key\"][3])",
        err_of(luann.save, p, { ["my key"] = { 1, 2, print } }))
      assert.equal("save: cannot save a function", err_of(luann.save, p, print))
      assert.equal("save: cannot save a thread (at co)",
        err_of(luann.save, p, { co = coroutine.create(print) }))
      assert.equal("save: cannot save a userdata (at out)", err_of(luann.save, p, { out = io.stdout }))
    end)

    it("rejects keys that are not strings or integers", function()
      assert.equal("save: table keys must be strings or integers, got the float key 1.5 (at a)",
        err_of(luann.save, p, { a = { [1.5] = 1 } }))
      assert.equal("save: table keys must be strings or integers, got a boolean key",
        err_of(luann.save, p, { [true] = 1 }))
      assert.equal("save: table keys must be strings or integers, got a table key",
        err_of(luann.save, p, { [{}] = 1 }))
    end)

    it("rejects cycles but not shared subtables", function()
      local t = {}
      t.self = t
      assert.equal("save: a table contains itself (cycles cannot be saved) (at self)",
        err_of(luann.save, p, t))
      local a = { b = { c = {} } }
      a.b.c.back = a.b
      assert.equal("save: a table contains itself (cycles cannot be saved) (at b.c.back)",
        err_of(luann.save, p, a))
      local shared = { 1 }
      assert.same({ x = { 1 }, y = { 1 } }, round_trip({ x = shared, y = shared }))
    end)

    it("rejects tables nested deeper than 64", function()
      local t = { 1 }
      for _ = 2, 65 do t = { t } end
      assert.matches("^save: tables nested deeper than 64 %(at %[1%]%[1%]", err_of(luann.save, p, t))
    end)

    it("leaves the old file and no temp file after an error", function()
      luann.save(p, { version = 1 })
      local before = listing()
      err_of(luann.save, p, { version = 2, bad = print })
      assert.same({ version = 1 }, luann.load(p))
      assert.same(before, listing())
    end)

    it("keeps the permissions of the file it replaces", function()
      local q = path_of("mode.ckp")
      luann.save(q, 1)
      os.execute("chmod 600 '" .. q .. "'")
      luann.save(q, 2)
      assert.equal("600", shell("stat -c %a '" .. q .. "'"):match("%d+"))
      assert.equal(2, luann.load(q))
    end)

    it("reports a directory that cannot be written", function()
      assert.matches("^save: cannot create /nonexistent/dir/x%.ckp%.tmp%.%d+: No such file or directory$",
        err_of(luann.save, "/nonexistent/dir/x.ckp", 1))
      assert.matches("bad argument #1 to '[%w.]*save' %(string expected, got no value%)",
        err_of(luann.save))
      assert.matches("bad argument #2 to '[%w.]*save' %(value expected%)", err_of(luann.save, p))
    end)
  end)

  describe("load of damaged files", function()
    local good = path_of("good.ckp")
    local bad = path_of("bad.ckp")
    local bytes

    setup(function()
      luann.manual_seed(3)
      luann.save(good, { w = luann.randn(50, 20), name = "net", step = 12 })
      bytes = read_file(good)
    end)

    it("reports missing, empty and foreign files", function()
      assert.equal("load: cannot open /nonexistent/x.ckp: No such file or directory",
        err_of(luann.load, "/nonexistent/x.ckp"))
      write_file(bad, "")
      assert.equal("load: " .. bad .. " is not a luann checkpoint (0 bytes long)", err_of(luann.load, bad))
      write_file(bad, string.rep("text file, not a checkpoint\n", 4))
      assert.equal("load: " .. bad .. " is not a luann checkpoint (bad magic)", err_of(luann.load, bad))
      assert.equal("load: " .. dir .. " is a directory", err_of(luann.load, dir))
    end)

    it("detects a flipped byte anywhere", function()
      write_file(bad, bytes:sub(1, 20) .. string.char(bytes:byte(21) ~ 1) .. bytes:sub(22))
      assert.equal("load: " .. bad .. ": corrupt checkpoint (header checksum mismatch)",
        err_of(luann.load, bad))
      local k = 40 + #bytes // 2
      write_file(bad, bytes:sub(1, k - 1) .. string.char(bytes:byte(k) ~ 0x10) .. bytes:sub(k + 1))
      assert.equal("load: " .. bad .. ": corrupt checkpoint (data checksum mismatch)",
        err_of(luann.load, bad))
      for pos = 1, #bytes, 97 do
        write_file(bad, bytes:sub(1, pos - 1) .. string.char(bytes:byte(pos) ~ 0x80) .. bytes:sub(pos + 1))
        assert.matches("^load: " .. escape(bad), err_of(luann.load, bad))
      end
    end)

    it("detects truncation and padding", function()
      for _, n in ipairs({ 1, 39, 40, 41, #bytes - 1 }) do
        write_file(bad, bytes:sub(1, n))
        assert.matches("^load: " .. escape(bad), err_of(luann.load, bad))
      end
      write_file(bad, bytes:sub(1, #bytes - 1))
      assert.equal(("load: %s: truncated or padded checkpoint (the header says %d bytes of data, "
        .. "the file has %d)"):format(bad, #bytes - 40, #bytes - 41), err_of(luann.load, bad))
      write_file(bad, bytes .. "x")
      assert.equal(("load: %s: truncated or padded checkpoint (the header says %d bytes of data, "
        .. "the file has %d)"):format(bad, #bytes - 40, #bytes - 39), err_of(luann.load, bad))
    end)
  end)

  describe("load of forged files", function()
    it("reads a forged file that is valid (the forger is right)", function()
      local v = load_forged(rec.table(3) .. rec.str("a") .. rec.int(-5) .. rec.int(2)
        .. rec.float(0.5) .. rec.str("t") .. rec.tensor(3, 0, { 2, 2 }, "\1\2\3\4"))
      assert.equal(-5, v.a)
      assert.equal(0.5, v[2])
      assert.same({ { 1, 2 }, { 3, 4 } }, v.t:tolist())
      assert.equal("uint8", v.t.dtype)
    end)

    it("reads only 0 and 1 from bool tensors", function()
      local t = load_forged(rec.tensor(4, 0, { 3 }, "\0\7\1"))
      assert.same({ false, true, true }, t:tolist())
    end)

    it("rejects sizes larger than the data before allocating", function()
      assert.equal(corrupt("a tensor of shape (1099511627776,) needs 4398046511104 bytes, only 4 remain"),
        forged_error(rec.tensor(0, 0, { 1 << 40 }, "\0\0\0\0")))
      assert.equal(corrupt("a tensor of shape (1048576,1048576,1048576) needs 9223372036854775808 "
        .. "bytes, only 0 remain"), forged_error(rec.tensor(1, 0, { 1 << 20, 1 << 20, 1 << 20 })))
      assert.equal(corrupt("a table larger than the remaining data"), forged_error(rec.table(1 << 60)))
      assert.equal(corrupt("a string runs past the end of the payload"), forged_error(rec.str("ab"):sub(1, 1)
        .. string.pack("<I8", 1 << 40) .. "ab"))
      assert.equal(corrupt("impossible payload size"), forged_error(rec.int(1), { payload_size = 1 << 50 }))
      assert.equal(corrupt("negative tensor size"), forged_error(rec.tensor(0, 0, { -4 })))
    end)

    it("rejects malformed records", function()
      assert.equal(corrupt("unknown record tag"), forged_error("\9"))
      assert.equal(corrupt("unknown record tag"), forged_error("\0"))
      assert.equal(corrupt("unknown tensor dtype"), forged_error(rec.tensor(5, 0, {})))
      assert.equal(corrupt("unknown tensor flags"), forged_error(rec.tensor(0, 2, {}, "\0\0\0\0")))
      assert.equal(corrupt("too many tensor dims"), forged_error(rec.tensor(0, 0, { 1, 1, 1, 1, 1, 1, 1, 1, 1 })))
      assert.equal(corrupt("a table key must be an integer or a string"),
        forged_error(rec.table(1) .. rec.float(1.5) .. rec.int(1)))
      assert.equal(corrupt("a table key must be an integer or a string"),
        forged_error(rec.table(1) .. rec.table(0) .. rec.int(1)))
      assert.equal(corrupt("more data after the root value"), forged_error(rec.int(1) .. rec.int(2)))
      assert.equal(corrupt("a table larger than the remaining data"),
        forged_error(rec.table(2) .. rec.int(1) .. rec.int(1)))
      assert.equal(corrupt("a record runs past the end of the payload"),
        forged_error(rec.table(1) .. rec.str("key")))
    end)

    it("limits nesting to 64 tables", function()
      local function nested(n)
        return string.rep(rec.table(1) .. rec.int(1), n) .. rec.bool(true)
      end
      local v = load_forged(nested(64))
      for _ = 1, 64 do v = v[1] end
      assert.is_true(v)
      assert.equal(corrupt("tables nested too deep"), forged_error(nested(65)))
      assert.equal(corrupt("tables nested too deep"), forged_error(nested(100000)))
    end)

    it("checks the header's version, flags and sizes", function()
      assert.equal("load: " .. path_of("forged.ckp") .. ": checkpoint format version 2 is not "
        .. "supported (this luann reads version 1)", forged_error(rec.int(1), { version = 2 }))
      assert.equal(corrupt("unknown flags"), forged_error(rec.int(1), { flags = 1 }))
      assert.equal(corrupt("the payload size in the header does not match the data"),
        forged_error(rec.int(1), { payload_size = 20 }))
      assert.equal(corrupt("a record runs past the end of the payload"),
        forged_error(rec.int(1), { payload_size = 5 }))
      assert.equal(corrupt("payload checksum mismatch"), forged_error(rec.int(1), { adler = 12345 }))
    end)

    it("survives random damage to valid payloads", function()
      local payload = rec.table(3) .. rec.str("w") .. rec.tensor(0, 1, { 2, 3 }, string.rep("\0\0\128\63", 6))
        .. rec.int(1) .. rec.table(1) .. rec.str("x") .. rec.float(2.5) .. rec.str("n") .. rec.str("name")
      assert.equal(2.5, load_forged(payload)[1].x)
      local seed = 99
      for _ = 1, 300 do
        seed = (seed * 1103515245 + 12345) % 2147483648
        local pos = seed % #payload + 1
        local byte = (seed >> 8) % 256
        local damaged = payload:sub(1, pos - 1) .. string.char(byte) .. payload:sub(pos + 1)
        if seed % 3 == 0 then damaged = damaged:sub(1, pos) end
        pcall(load_forged, damaged) -- an error or a value, never a crash
      end
    end)
  end)

  describe("atomic writes", function()
    local lua_cmd = "lua5.4 -e \"package.cpath = '" .. build .. "/?.so;' .. package.cpath\" "

    -- Starts a child that saves {version = 2, big = ...} over p; returns its pid.
    local function spawn_save(p, env, n)
      local script = path_of("child.lua")
      write_file(script, ([[
        local luann = require "luann"
        luann.manual_seed(1)
        luann.save(%q, { version = 2, big = luann.randn(%d) })
      ]]):format(p, n))
      local pid = shell(env .. " " .. lua_cmd .. "'" .. script .. "' >/dev/null 2>&1 & echo $!")
      return assert(tonumber(pid:match("%d+")))
    end

    -- Whether process pid is gone (or a zombie), read from /proc.
    local function dead(pid)
      local f = io.open("/proc/" .. pid .. "/stat", "r")
      if not f then return true end
      local stat = f:read("a") or ""
      f:close()
      return stat:match("%) (%a)") == "Z"
    end

    local function wait_for(cond)
      for _ = 1, 400 do
        if cond() then return true end
        os.execute("sleep 0.05")
      end
      return false
    end

    it("leaves the old checkpoint loadable when a save is killed before its rename", function()
      local p = path_of("killed.ckp")
      luann.save(p, { version = 1 })
      local pid = spawn_save(p, "LUANN_TEST_SAVE_DELAY=20000", 200000)
      local tmp = p .. ".tmp." .. pid
      -- the header is written last: once it is there, the child sleeps
      assert.is_true(wait_for(function()
        return exists(tmp) and read_file(tmp):sub(1, 8) == "LUANNCKP"
      end))
      os.execute("kill -9 " .. pid)
      assert.is_true(wait_for(function() return dead(pid) end))
      assert.same({ version = 1 }, luann.load(p))
      os.remove(tmp)
    end)

    it("leaves a loadable checkpoint when a save is killed at any moment", function()
      local p = path_of("killed2.ckp")
      luann.save(p, { version = 1 })
      for _, delay in ipairs({ "0.05", "0.2", "0.5" }) do
        local pid = spawn_save(p, "", 3000000)
        os.execute("sleep " .. delay)
        os.execute("kill -9 " .. pid .. " 2>/dev/null")
        assert.is_true(wait_for(function() return dead(pid) end))
        local v = luann.load(p)
        assert.is_true(v.version == 1 or (v.version == 2 and v.big:numel() == 3000000))
        os.remove(p .. ".tmp." .. pid)
      end
    end)
  end)
end)
