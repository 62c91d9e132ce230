--- luann.einsum(equation, a[, b]): PyTorch's torch.einsum for one or two
-- operands, composed of ops that have their own backward and run on every
-- device. Each operand first loses its repeated subscripts (the diagonal:
-- index_select on the repeated dims flattened together) and the subscripts
-- that neither the output nor the other operand has (a sum). One operand
-- is then permuted into the output's order; two are permuted and reshaped
-- into (batch, rows, contracted) and (batch, contracted, cols) for one bmm
-- (integer operands: a broadcast product and a sum), whose result is
-- reshaped and permuted into the output's order.
--
-- Subscripts are letters (a-z, A-Z); `...` stands for the dims no letter
-- names, broadcast between the operands. Without `->` the output is the
-- ellipsis dims, then the letters that appear once, sorted (uppercase
-- before lowercase), as in PyTorch. Sizes of a subscript shared by the two
-- operands broadcast (1 against n). Spaces are ignored.
-- @module luann.einsum
-- @usage luann.einsum("bij,bjk->bik", a, b)   -- batched matmul
-- luann.einsum("ii", m)                      -- trace
-- luann.einsum("...ij->...ji", x)            -- transpose the last two dims
local luann = require "luann.core"

-- check.error, required on use: luann.utils.check needs luann, which loads this file
local function raise(msg, level) require("luann.utils.check").error(msg, level + 1) end

local MAX_DIMS = 8

-- "(2,3)", as the core prints shapes.
local function shape_str(t)
  return "(" .. table.concat(t.shape, ",") .. ")"
end

local function shapes_str(ops)
  local s = {}
  for i, t in ipairs(ops) do s[i] = shape_str(t) end
  return table.concat(s, " and ")
end

-- Planning errors carry no position: einsum re-raises them at its caller.
local function fail(fmt, ...)
  error("einsum: " .. string.format(fmt, ...), 0)
end

-- The subscripts of one term: a list of letters, and where "..." stands
-- (the index of the letter it precedes) or nil.
local function parse_term(term, equation)
  local labels, ellipsis, i = {}, nil, 1
  while i <= #term do
    local c = term:sub(i, i)
    if c == "." then
      if term:sub(i, i + 2) ~= "..." then
        fail("'%s' has a '.' that is not part of an ellipsis '...'", equation)
      end
      if ellipsis then fail("'%s' has more than one ellipsis in a term", equation) end
      ellipsis, i = #labels + 1, i + 3
    elseif c:match("^%a$") then
      labels[#labels + 1], i = c, i + 1
    else
      fail("invalid subscript '%s' in '%s': subscripts are letters a-z and A-Z",
        c, equation)
    end
  end
  return labels, ellipsis
end

-- The labels of each of t's dims: its letters, with the ellipsis dims as
-- "#k", numbered so that the last ellipsis dim of every operand is "#E".
local function dim_labels(t, k, labels, ellipsis, nell_max, shapes)
  local nd, n = t:dim(), #labels
  if (ellipsis and n > nd) or (not ellipsis and n ~= nd) then
    fail("operand %d has shape %s but its subscripts name %s%d dims (shapes %s)",
      k, shape_str(t), ellipsis and "at least " or "", n, shapes)
  end
  local out, nell = {}, ellipsis and nd - n or 0
  for i = 1, n + 1 do
    if i == ellipsis then
      for j = 1, nell do out[#out + 1] = "#" .. (nell_max - nell + j) end
    end
    if i <= n then out[#out + 1] = labels[i] end
  end
  return out
end

-- The output's labels: explicit, or implicit as PyTorch forms them.
local function output_labels(rhs, counts, nell, equation)
  local out = {}
  if rhs then
    local labels, ellipsis = parse_term(rhs, equation)
    local seen = {}
    for i = 1, #labels + 1 do
      if i == ellipsis then
        for j = 1, nell do out[#out + 1] = "#" .. j end
      end
      local l = labels[i]
      if l then
        if not counts[l] then fail("output subscript %s appears in no operand of '%s'", l, equation) end
        if seen[l] then fail("output subscript %s appears more than once in '%s'", l, equation) end
        seen[l], out[#out + 1] = true, l
      end
    end
    return out
  end
  for j = 1, nell do out[#out + 1] = "#" .. j end
  local once = {}
  for l, c in pairs(counts) do
    if c == 1 and not l:find("#") then once[#once + 1] = l end
  end
  table.sort(once)
  for _, l in ipairs(once) do out[#out + 1] = l end
  return out
end

-- Checks the equation against the operands; returns the labels of each
-- operand's dims, the output's labels, and each label's (broadcast) size.
local function plan(equation, ops)
  local eq = equation:gsub("%s", "")
  local lhs, rhs = eq:match("^(.-)%->(.*)$")
  lhs = lhs or eq
  if rhs and rhs:find("->", 1, true) then fail("'%s' has more than one '->'", equation) end
  local terms = {}
  for term in (lhs .. ","):gmatch("([^,]*),") do terms[#terms + 1] = term end
  if #terms ~= #ops then
    fail("'%s' names %d operands, got %d (shapes %s)", equation, #terms, #ops, shapes_str(ops))
  end
  local shapes, parsed, nell = shapes_str(ops), {}, 0
  for k, term in ipairs(terms) do
    local labels, ellipsis = parse_term(term, equation)
    parsed[k] = { labels, ellipsis }
    if ellipsis then nell = math.max(nell, ops[k]:dim() - #labels) end
  end
  local labels, sizes, counts, owner = {}, {}, {}, {}
  for k, t in ipairs(ops) do
    labels[k] = dim_labels(t, k, parsed[k][1], parsed[k][2], nell, shapes)
    local mine = {}
    for d, l in ipairs(labels[k]) do
      local n = t.shape[d]
      if mine[l] and mine[l] ~= n then
        fail("subscript %s is repeated in operand %d (shape %s) with sizes %d and %d",
          l, k, shape_str(t), mine[l], n)
      end
      if not mine[l] and sizes[l] and sizes[l] ~= n and sizes[l] ~= 1 and n ~= 1 then
        local what = l:find("#") and "an ellipsis dim" or "subscript " .. l
        fail("%s has size %d in operand %d and %d in operand %d (shapes %s)",
          what, sizes[l], owner[l], n, k, shapes)
      end
      if not mine[l] and (not sizes[l] or sizes[l] == 1) then sizes[l], owner[l] = n, k end
      mine[l], counts[l] = n, (counts[l] or 0) + 1
    end
  end
  local out = output_labels(rhs, counts, nell, equation)
  if #out > MAX_DIMS then
    fail("the output of '%s' would have %d dims (at most %d; shapes %s)", equation, #out,
      MAX_DIMS, shapes)
  end
  return labels, out, sizes
end

local function index_of(list, v)
  for i, x in ipairs(list) do
    if x == v then return i end
  end
end

-- t with the first repeated label's dims replaced by their diagonal (a
-- last dim): those dims are moved last and flattened, and index_select
-- reads every (1 + n + .. + n^(r-1))-th element.
local function diagonal(t, labels)
  for _, l in ipairs(labels) do
    local at = {}
    for d, x in ipairs(labels) do
      if x == l then at[#at + 1] = d end
    end
    if #at > 1 then
      local perm, shape, rest, n = {}, {}, {}, t.shape[at[1]]
      for d, x in ipairs(labels) do
        if x ~= l then
          perm[#perm + 1], shape[#shape + 1], rest[#rest + 1] = d, t.shape[d], x
        end
      end
      for _, d in ipairs(at) do perm[#perm + 1] = d end
      local flat = 1 -- n^r: at most the operand's numel
      for _ = 1, #at do flat = flat * n end
      shape[#shape + 1] = flat
      local step = n > 1 and (flat - 1) // (n - 1) or 1
      local index = luann.arange(1, flat + 1, step, { device = t.device })
      rest[#rest + 1] = l
      t = t:permute(perm):reshape(shape):index_select(#shape, index)
      return diagonal(t, rest)
    end
  end
  return t, labels
end

-- t summed over the labels in `drop`, which it loses.
local function sum_out(t, labels, drop)
  local dims, keep = {}, {}
  for d, l in ipairs(labels) do
    if drop[l] then dims[#dims + 1] = d else keep[#keep + 1] = l end
  end
  if #dims == 0 then return t, labels end
  return t:sum(dims), keep
end

-- t (labels `from`, all in `to`) permuted into the order of `to`.
local function arrange(t, from, to)
  local perm = {}
  for i, l in ipairs(to) do perm[i] = index_of(from, l) end
  return t:permute(perm)
end

local function product(sizes, labels)
  local n = 1
  for _, l in ipairs(labels) do n = n * sizes[l] end
  return n
end

local function shape_of(sizes, labels)
  local s = {}
  for i, l in ipairs(labels) do s[i] = sizes[l] end
  return s
end

-- Two operands through one bmm: (B, M, K) @ (B, K, N) -> (B, M, N).
local function contract_bmm(a, la, b, lb, out, sizes)
  local batch, left, right, inner = {}, {}, {}, {}
  for _, l in ipairs(la) do
    if not index_of(lb, l) then left[#left + 1] = l
    elseif index_of(out, l) then batch[#batch + 1] = l
    else inner[#inner + 1] = l end
  end
  for _, l in ipairs(lb) do
    if not index_of(la, l) then right[#right + 1] = l end
  end
  local function side(t, labels, first, second)
    local order = {}
    for _, group in ipairs({ batch, first, second }) do
      for _, l in ipairs(group) do order[#order + 1] = l end
    end
    t = arrange(t, labels, order):expand(shape_of(sizes, order))
    return t:reshape(product(sizes, batch), product(sizes, first), product(sizes, second))
  end
  local y = luann.bmm(side(a, la, left, inner), side(b, lb, inner, right))
  local ly = {}
  for _, group in ipairs({ batch, left, right }) do
    for _, l in ipairs(group) do ly[#ly + 1] = l end
  end
  return arrange(y:reshape(shape_of(sizes, ly)), ly, out)
end

-- Every label of the output, then the others of la and lb.
local function union(out, la, lb)
  local all = {}
  for _, list in ipairs({ out, la, lb }) do
    for _, l in ipairs(list) do
      if not index_of(all, l) then all[#all + 1] = l end
    end
  end
  return all
end

-- Two operands of any dtype: both viewed over every label (size 1 where
-- they lack it), multiplied with broadcasting, summed over the labels the
-- output lacks.
local function contract_mul(a, la, b, lb, out)
  local all = union(out, la, lb)
  local function spread(t, labels)
    local present, shape = {}, {}
    for _, l in ipairs(all) do
      if index_of(labels, l) then present[#present + 1] = l end
    end
    t = arrange(t, labels, present)
    for i, l in ipairs(all) do
      local at = index_of(present, l)
      shape[i] = at and t.shape[at] or 1
    end
    return t:reshape(shape)
  end
  local y = spread(a, la) * spread(b, lb)
  if #all == #out then return y end
  local dims = {}
  for d = #out + 1, #all do dims[#dims + 1] = d end
  return y:sum(dims)
end

local function is_float(t) return t.dtype == "float32" or t.dtype == "float64" end

--- Sums products of the operands' elements as the equation says.
-- @param equation subscripts, "ij,jk->ik"
-- @param a a tensor
-- @param b a tensor, for a two-operand equation (or a and b as a list in a)
-- @return a tensor
local function einsum(equation, a, b, ...)
  if type(equation) ~= "string" then
    raise("einsum: equation must be a string, got " .. type(equation), 2)
  end
  local ops, n = { a, b }, b == nil and 1 or 2 + select("#", ...)
  if type(a) == "table" and not luann.is_tensor(a) and b == nil then -- a list
    n = rawlen(a)
    ops = { rawget(a, 1), n > 1 and rawget(a, 2) or nil }
  end
  if n < 1 or n > 2 then
    raise(("einsum: luann takes one or two operands, got %d"):format(n), 2)
  end
  for k = 1, n do
    if not luann.is_tensor(ops[k]) then
      raise(("einsum: operand %d must be a tensor, got %s"):format(k, type(ops[k])), 2)
    end
  end
  if #ops == 2 and ops[1].device ~= ops[2].device then
    raise(("einsum: operands are on %s and %s (shapes %s)"):format(ops[1].device,
      ops[2].device, shapes_str(ops)), 2)
  end
  local ok, labels, out, sizes = pcall(plan, equation, ops)
  if not ok then raise(labels, 2) end
  local shapes, drop = shapes_str(ops), {} -- drop: summed out of an operand first
  for k, t in ipairs(ops) do
    for _, l in ipairs(labels[k]) do
      drop[l] = drop[l] or (not index_of(out, l) and not index_of(labels[3 - k] or {}, l))
    end
    ops[k], labels[k] = diagonal(t, labels[k])
    ops[k], labels[k] = sum_out(ops[k], labels[k], drop)
  end
  if #ops == 1 then return arrange(ops[1], labels[1], out) end
  local a1, a2 = ops[1], ops[2]
  if is_float(a1) and is_float(a2) then
    return contract_bmm(a1, labels[1], a2, labels[2], out, sizes)
  end
  n = #union(out, labels[1], labels[2])
  if n > MAX_DIMS then
    raise(("einsum: '%s' on %s and %s operands needs %d dims at once (at most %d; "
      .. "shapes %s)"):format(equation, a1.dtype, a2.dtype, n, MAX_DIMS, shapes), 2)
  end
  return contract_mul(a1, labels[1], a2, labels[2], out)
end

return einsum
