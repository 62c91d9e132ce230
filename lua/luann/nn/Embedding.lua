--- nn.Embedding: a lookup table of num_embeddings vectors of size
-- embedding_dim; the input holds 1-based int64 row indices.
-- @usage local emb = nn.Embedding(10000, 128)
-- local emb = nn.Embedding(10, 3, {padding_idx = 1})  -- row 1 stays zero
-- local y = emb(luann.tensor({{1, 2}, {4, 5}}, {dtype = "int64"}))  -- (2, 2, 3)
-- local emb = nn.Embedding.from_pretrained(vectors, {freeze = false})
local luann = require "luann"
local check = require "luann.utils.check"
local Module = require "luann.nn.Module"
local Parameter = require "luann.nn.Parameter"
local F = require "luann.nn.functional"
local init = require "luann.nn.initializers"

local Embedding = Module:extend("Embedding")

local OPTIONS = { padding_idx = true, dtype = true, device = true, _weight = true, _freeze = true }

-- opts.padding_idx checked against n rows and made positive (-1 is row n).
local function padding_row(p, n)
  if p == nil then return nil end
  p = check.integer("nn.Embedding", 3, p, "padding_idx", nil, nil, 4)
  if p == 0 or p > n or p < -n then
    check.error(("nn.Embedding: bad argument #3 'padding_idx' (%d out of range [1, %d] or [-%d, -1])")
      :format(p, n, n), 2)
  end
  return p < 0 and p + n + 1 or p
end

--- Makes the table; weight (num_embeddings, embedding_dim) starts N(0, 1),
-- with the padding row zero, as PyTorch's defaults do.
-- @param num_embeddings the number of rows
-- @param embedding_dim the size of each row
-- @param opts {padding_idx = nil (a row, 1-based, whose entries get no
--   gradient), dtype = "float32", device = "cpu"}
function Embedding:__init(num_embeddings, embedding_dim, opts)
  self.num_embeddings = check.integer("nn.Embedding", 1, num_embeddings, "num_embeddings", nil, 0, 3)
  self.embedding_dim = check.integer("nn.Embedding", 2, embedding_dim, "embedding_dim", nil, 0, 3)
  opts = check.options("nn.Embedding", 3, opts, 3)
  check.known_options("nn.Embedding", opts, OPTIONS, 3)
  self.padding_idx = padding_row(opts.padding_idx, self.num_embeddings)
  if opts._weight then -- from_pretrained's table, kept as it is
    self.weight = Parameter(opts._weight, not opts._freeze)
  else
    local topts = { dtype = opts.dtype, device = opts.device }
    self.weight = Parameter(luann.empty(self.num_embeddings, self.embedding_dim, topts))
    self:reset_parameters()
  end
end

--- Re-draws weight from N(0, 1) and zeroes the padding row.
function Embedding:reset_parameters()
  init.normal_(self.weight)
  if self.padding_idx ~= nil then init.zeros_(self.weight:select(1, self.padding_idx)) end
end

--- A layer over an existing table (shared, not copied).
-- @param embeddings a 2-D float tensor (num_embeddings, embedding_dim)
-- @param opts {freeze = true (no gradient for the table), padding_idx = nil}
-- @return an nn.Embedding
function Embedding.from_pretrained(embeddings, opts)
  check.tensor("nn.Embedding.from_pretrained", 1, embeddings, "embeddings")
  if embeddings:dim() ~= 2 then
    check.error("nn.Embedding.from_pretrained: embeddings must be 2-D, got shape "
      .. check.shape_str(embeddings), 2)
  end
  opts = check.options("nn.Embedding.from_pretrained", 2, opts)
  check.known_options("nn.Embedding.from_pretrained", opts, { freeze = true, padding_idx = true })
  local freeze = check.boolean("nn.Embedding.from_pretrained", 2, opts.freeze, "freeze", true)
  return Embedding(embeddings:size(1), embeddings:size(2),
    { padding_idx = opts.padding_idx, _weight = embeddings, _freeze = freeze })
end

--- @param input an int64 tensor of row indices (1-based), any shape
-- @return a tensor input.shape .. (embedding_dim)
function Embedding:forward(input)
  return F.embedding(input, self.weight, self.padding_idx)
end

function Embedding:extra_repr()
  local s = self.num_embeddings .. ", " .. self.embedding_dim
  if self.padding_idx ~= nil then s = s .. ", padding_idx=" .. self.padding_idx end
  return s
end

return Embedding
