-- logger_spec.lua: luann.utils.Logger: the CSV it writes (exactly), rows
-- on disk as soon as they are added, appending to a log that exists,
-- values read back as the doubles written, plots of columns, and errors.
local luann = require "luann"
local helpers = require "helpers"

local Logger = luann.utils.Logger
local read_file, write_file = helpers.read_file, helpers.write_file

local tmp, remove_tmpfiles = helpers.temp_paths(".csv")
local err_of = helpers.err_of

describe("luann.utils.Logger", function()
  teardown(function()
    remove_tmpfiles()
  end)

  it("writes a header and one line per row, each on disk at once", function()
    local path = tmp()
    local log = Logger(path, { "epoch", "loss", "acc" })
    assert.equal("epoch,loss,acc\n", read_file(path))
    log:add { epoch = 1, loss = 0.5, acc = 0.25 }
    assert.equal("epoch,loss,acc\n1,0.5,0.25\n", read_file(path)) -- not closed yet
    log:add { 2, 0.1, 1 / 3 }
    log:add { epoch = 3, acc = 1.0 }
    log:add { 4, 0 / 0, 1 / 0 }
    log:add { epoch = -1 / 0, loss = "a,b", acc = 'say "hi"' }
    log:add { epoch = true, loss = luann.tensor(0.75), acc = " pad" }
    log:close()
    assert.equal(table.concat({
      "epoch,loss,acc",
      "1,0.5,0.25",
      "2,0.1,0.3333333333333333",
      "3,,1",
      "4,nan,inf",
      '-inf,"a,b","say ""hi"""',
      'true,0.75," pad"',
      "",
    }, "\n"), read_file(path))
  end)

  it("writes numbers with the digits that read back as the same double", function()
    local path = tmp()
    local log = Logger(path, { "v" })
    math.randomseed(11)
    local values = { 0.1, 1e-300, 1.7976931348623157e308, 5e-324, -0.0, 123456789012345678, 2 ^ 53 + 1.0 }
    for i = 1, 200 do values[#values + 1] = (math.random() - 0.5) * 10 ^ math.random(-20, 20) end
    for _, v in ipairs(values) do log:add { v = v } end
    local cols, n = log:columns()
    assert.equal(#values, n)
    for i, v in ipairs(values) do assert.equal(v, cols.v[i]) end
    assert.equal("v\n0.1\n1e-300\n", read_file(path):sub(1, 13))
  end)

  it("appends to a log that exists, keeping its header", function()
    local path = tmp()
    local log = Logger(path, { "a", "b" })
    log:add { 1, 2 }
    log:close()
    log = Logger(path, { "a", "b" })
    log:add { 3, 4 }
    log:close()
    log = Logger(path) -- the names from the header
    assert.same({ "a", "b" }, log.names)
    log:add { b = 6 }
    log:close()
    assert.equal("a,b\n1,2\n3,4\n,6\n", read_file(path))
    log = Logger(path, { "a", "b" }, { append = false })
    log:add { 7, 8 }
    log:close()
    assert.equal("a,b\n7,8\n", read_file(path))
  end)

  it("ends a row cut short before appending", function()
    local path = tmp()
    write_file(path, "a,b\n1,2\n3")
    local log = Logger(path, { "a", "b" })
    log:add { 5, 6 }
    log:close()
    assert.equal("a,b\n1,2\n3\n5,6\n", read_file(path))
    local cols, n = Logger(path):columns()
    assert.equal(3, n)
    assert.same({ 1, 3, 5 }, cols.a)
    assert.is_true(cols.b[2] ~= cols.b[2]) -- the missing cell reads as NaN
  end)

  it("takes names later with setNames, and options alone", function()
    local path = tmp()
    local log = Logger(path, { append = false })
    log:setNames { "x" }
    log:setNames { "x" } -- the same names again: nothing happens
    log:add { 1 }
    log:close()
    assert.equal("x\n1\n", read_file(path))
  end)

  it("plots columns, by row or against a column", function()
    local path = tmp()
    local log = Logger(path, { "epoch", "loss", "acc" })
    for e = 1, 20 do log:add { epoch = e, loss = 2 * math.exp(-e / 5), acc = 1 - math.exp(-e / 4) } end
    local png = tmp(".png")
    log:plot(png)
    assert.same({ 3, 480, 640 }, luann.image.load(png).shape)
    log:plot(png, { "loss" }, { x = "epoch", logy = true, width = 300, height = 200, title = "loss" })
    assert.same({ 3, 200, 300 }, luann.image.load(png).shape)
    log:plot(png, { logy = true })
    local px = luann.image.load(png, { dtype = "uint8" })
    assert.same({ 3, 480, 640 }, px.shape)
  end)

  describe("errors", function()
    it("names what is wrong with names and rows", function()
      local path = tmp()
      local log = Logger(path, { "a", "b" })
      assert.equal("Logger:add: no column 'c' (columns: a, b)", err_of(log.add, log, { c = 1 }))
      assert.equal("Logger:add: no column 3 (columns: a, b)", err_of(log.add, log, { 1, 2, 3 }))
      assert.equal("Logger:add: column 'a' given twice", err_of(log.add, log, { 1, a = 2 }))
      assert.equal("Logger:add: column 'a' got table (a number, string or boolean expected)",
        err_of(log.add, log, { a = {} }))
      assert.equal("Logger:add: column 'b' got a tensor of shape (2) (one value expected)",
        err_of(log.add, log, { b = luann.zeros(2) }))
      assert.equal("Logger:add: bad argument #1 'values' (table expected, got number)", err_of(log.add, log, 5))
      assert.equal("Logger:setNames: " .. path .. " has the columns (a, b), not (a); give {append = false} to start it over",
        err_of(log.setNames, log, { "a" }))
      log:close()
      assert.equal("Logger: " .. path .. " is closed", err_of(log.add, log, { 1, 2 }))
      assert.equal("Logger: " .. path .. " has the columns (a, b), not (b, a); give {append = false} to start it over",
        err_of(Logger, path, { "b", "a" }))
      assert.equal("Logger: column 'a' named twice", err_of(Logger, tmp(), { "a", "a" }))
      assert.equal("Logger: column name 2 must be a non-empty string, got number", err_of(Logger, tmp(), { "a", 2 }))
      assert.equal("Logger:add: no columns yet (give names to Logger(path, names) or setNames)",
        err_of(function() local l = Logger(tmp()) l:add { 1 } end))
    end)

    it("names the path it cannot open, and plots nothing from an empty log", function()
      assert.equal("Logger: cannot open /nonexistent-dir/log.csv: No such file or directory",
        err_of(Logger, "/nonexistent-dir/log.csv", { "a" }))
      assert.equal("Logger: bad argument #1 'path' (string expected, got nil)", err_of(Logger, nil))
      local path = tmp()
      local log = Logger(path, { "a" })
      assert.equal("Logger:plot: nothing logged yet in " .. path, err_of(log.plot, log, tmp(".png")))
      log:add { 1 }
      assert.equal("Logger:plot: no column 'b' (columns: a)", err_of(log.plot, log, tmp(".png"), { "b" }))
      assert.equal("Logger:plot: no column 'e' for x", err_of(log.plot, log, tmp(".png"), { "a" }, { x = "e" }))
    end)
  end)
end)
