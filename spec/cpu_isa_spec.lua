-- cpu_isa_spec.lua: the CPU kernels' instruction sets (core/cpu_isa.c).
-- spec/support/cpu_kernels_battery.lua runs under each LUANN_CPU_ISA; the
-- elementwise results must agree bit for bit with the generic build's (no
-- FMA contraction anywhere), the reductions to rounding.
local luann = require "luann"

local build = os.getenv("LUANN_BUILD") or "build"
local exe = build .. "/luann"
local ISAS = { "generic", "avx2", "avx512" }
local LEVEL = { generic = 1, avx2 = 2, avx512 = 3 }

-- the battery's results under one ISA
local function run(isa)
  local path = os.tmpname()
  local ok = os.execute("LUANN_CPU_ISA=" .. isa .. " " .. exe
    .. " spec/support/cpu_kernels_battery.lua " .. path)
  assert.is_true(ok, "the battery failed under " .. isa)
  local r = luann.load(path)
  os.remove(path)
  return r
end

-- reductions and softmax sum in a vector width's order
local function rounding_only(key)
  return key:find("sum$") or key:find("softmax") or key:find("adam")
end

describe("CPU kernels per instruction set", function()
  local best = luann.cpu.isa()

  it("picks the best one the CPU has, and a lower one on request", function()
    assert.is_not_nil(LEVEL[best])
    for _, isa in ipairs(ISAS) do
      local p = assert(io.popen("LUANN_CPU_ISA=" .. isa .. " " .. exe .. " -e 'io.write(luann.cpu.isa())'"))
      local got = p:read("a")
      p:close()
      local want = LEVEL[isa] <= LEVEL[best] and isa or best
      assert.are.equal(want, got)
    end
  end)

  it("computes what the generic kernels compute", function()
    local ref = run("generic")
    assert.are.equal("generic", ref.isa)
    local compared = 0
    for _, isa in ipairs(ISAS) do
      if isa ~= "generic" and LEVEL[isa] <= LEVEL[best] then
        local r = run(isa)
        assert.are.equal(isa, r.isa)
        for k, want in pairs(ref) do
          if k ~= "isa" then
            local got = r[k]
            assert.are.same(want:size(), got:size(), k)
            if rounding_only(k) then
              local tol = want.dtype == "float32" and 1e-5 or 1e-12
              assert.is_true(luann.allclose(got, want, tol, tol), isa .. ": " .. k)
            else
              local same = want.dtype == "bool" and got:eq(want):all():item()
                or (got - want):abs():max():item() == 0
              assert.is_true(same, isa .. ": " .. k .. " differs from generic")
            end
            compared = compared + 1
          end
        end
      end
    end
    if LEVEL[best] > 1 then assert.is_true(compared > 300) end
  end)

  it("keeps the vector loops' remainders right (against a scalar reference)", function()
    local r = run(best)
    local x = luann.linspace(-3, 3, 33, { dtype = "float64" })
    local want = x:tolist()
    local got = r.float64_33_relu:tolist()
    for i = 1, 33 do assert.are.equal(math.max(want[i], 0), got[i]) end
    local pos = luann.linspace(0.1, 5, 33, { dtype = "float64" }):tolist()
    local add = r.float64_33_add:tolist()
    for i = 1, 33 do assert.are.equal(want[i] + pos[i], add[i]) end
    local s = 0
    for i = 1, 33 do s = s + want[i] end
    assert.is_true(math.abs(r.float64_33_sum:item() - s) < 1e-12)
  end)
end)
