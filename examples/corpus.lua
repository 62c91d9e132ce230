-- examples/corpus.lua: the character-level corpus of examples/char_transformer.lua
-- and examples/char_lstm.lua: Debian's fortunes (the `fortunes` package), split
-- by fortune into training and validation text, with a byte vocabulary and the
-- unigram and bigram baselines. bench/char_transformer.py ports it line for
-- line, so the PyTorch twin sees the same split.
--
--   local corpus = dofile(dir .. "corpus.lua")
--   local c = corpus.load()              -- c.train, c.valid: strings
--   local vocab = corpus.vocab(c.train)  -- vocab.size, vocab:encode(s), vocab:decode(ids)
--
-- Preparation: the text files of /usr/share/games/fortunes in sorted order
-- (no .dat index or .u8 link; no art and ascii-art, which are pictures, not
-- text); overstrike sequences (a byte and a backspace, as in "_\bA") removed;
-- cut into fortunes at the lines that hold only "%", those lines dropped; a
-- fixed 10% of the fortunes, drawn with a 32-bit LCG that Python reproduces
-- exactly, is the validation split. Each split is its fortunes joined in file
-- order: about 2.2 MB of training and 0.25 MB of validation text.
local luann = require "luann"

local corpus = {}

corpus.DIR = "/usr/share/games/fortunes"
corpus.SKIP = { art = true, ["ascii-art"] = true }
corpus.SPLIT_SEED = 1234
corpus.VALID_FRACTION = 0.1

-- The text files of dir, sorted by bytes (as Python's sorted()).
local function text_files(dir)
  local ls = io.popen("ls -1 '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
  local names = {}
  for name in ls:lines() do
    if not name:find(".", 1, true) and not corpus.SKIP[name] then names[#names + 1] = name end
  end
  ls:close()
  if #names == 0 then
    error("no fortune files in " .. dir .. " (install Debian's fortunes package: apt-get install fortunes)", 0)
  end
  table.sort(names)
  return names
end

-- Removes overstrike: each byte followed by a backspace, until none is left
-- ("____\b\b\b\bBODY" becomes "BODY").
local function strip_overstrike(s)
  local n
  repeat s, n = s:gsub("[^\b]\b", "") until n == 0
  return s
end

-- The fortunes of one file's text: what lies between the "%" lines, each
-- ending with its newline; empty ones dropped.
local function split_fortunes(text, out)
  local cur = {}
  local function flush()
    local f = table.concat(cur)
    if f:find("%S") then out[#out + 1] = f end
    cur = {}
  end
  if text:sub(-1) ~= "\n" then text = text .. "\n" end
  for line in text:gmatch("(.-)\n") do
    if line == "%" then flush() else cur[#cur + 1] = line .. "\n" end
  end
  flush()
  return out
end

-- A 32-bit linear congruential generator (Numerical Recipes' constants):
-- returns a function giving the next state.
local function lcg(seed)
  local x = seed & 0xffffffff
  return function()
    x = (1664525 * x + 1013904223) & 0xffffffff
    return x
  end
end

--- Every fortune of the corpus, in file order.
-- @param dir the fortunes folder (default corpus.DIR)
-- @return a list of strings
function corpus.fortunes(dir)
  dir = dir or corpus.DIR
  local out = {}
  for _, name in ipairs(text_files(dir)) do
    local f = assert(io.open(dir .. "/" .. name, "rb"))
    local text = strip_overstrike(f:read("a"))
    f:close()
    split_fortunes(text, out)
  end
  return out
end

--- The training and validation text.
-- @param dir the fortunes folder (default corpus.DIR)
-- @return {train = string, valid = string, n_train = fortunes, n_valid = fortunes}
function corpus.load(dir)
  local fortunes = corpus.fortunes(dir)
  local n = #fortunes
  local perm = {}
  for i = 1, n do perm[i] = i end
  local rand = lcg(corpus.SPLIT_SEED)
  for i = n, 2, -1 do -- Fisher-Yates
    local j = rand() % i + 1
    perm[i], perm[j] = perm[j], perm[i]
  end
  local n_valid = math.floor(n * corpus.VALID_FRACTION)
  local is_valid = {}
  for k = 1, n_valid do is_valid[perm[k]] = true end
  local train, valid = {}, {}
  for i, f in ipairs(fortunes) do
    local part = is_valid[i] and valid or train
    part[#part + 1] = f
  end
  return { train = table.concat(train), valid = table.concat(valid), n_train = #train, n_valid = #valid }
end

-- ---- vocabulary ----------------------------------------------------------------

local Vocab = {}
Vocab.__index = Vocab

--- The bytes that occur in text, sorted, as ids 1..n, and id n + 1 for
-- <unk>: any byte the training text lacks (validation has a few such
-- bytes of UTF-8 letters). Ids are 1-based, as luann's class indices.
-- @param text the training text
-- @return a vocabulary: size, unk, id (byte -> id), byte (id -> byte)
function corpus.vocab(text)
  local seen = {}
  for i = 1, #text do seen[text:byte(i)] = true end
  local v = setmetatable({ id = {}, byte = {} }, Vocab)
  for b = 0, 255 do
    if seen[b] then
      v.byte[#v.byte + 1] = b
      v.id[b] = #v.byte
    end
  end
  v.unk = #v.byte + 1
  v.size = v.unk
  return v
end

--- The ids of s, as a Lua list.
function Vocab:ids(s)
  local id, unk, out = self.id, self.unk, {}
  for i = 1, #s do out[i] = id[s:byte(i)] or unk end
  return out
end

--- The ids of s, as an int64 tensor (#s).
function Vocab:encode(s)
  return luann.tensor(self:ids(s), { dtype = "int64" })
end

--- The text of a list or 1-D tensor of ids (<unk> as "?").
function Vocab:decode(ids)
  if type(ids) ~= "table" then ids = ids:tolist() end
  local out = {}
  for i, id in ipairs(ids) do out[i] = string.char(self.byte[id] or 63) end
  return table.concat(out)
end

-- ---- baselines -----------------------------------------------------------------

local LOG2 = math.log(2)

--- Bits per character on valid of the unigram and bigram models counted on
-- train, with add-one (Laplace) smoothing over the vocabulary:
--   p(c) = (n(c) + 1) / (N + V),  p(c | a) = (n(a c) + 1) / (n(a .) + V)
-- The bigram model scores valid's first byte with the unigram one.
-- @return unigram bpc, bigram bpc
function corpus.baselines(vocab, train, valid)
  local V = vocab.size
  local t, v = vocab:ids(train), vocab:ids(valid)
  local uni, bi, ctx = {}, {}, {}
  for c = 1, V do uni[c], ctx[c] = 0, 0 end
  for i = 1, #t do
    uni[t[i]] = uni[t[i]] + 1
    if i > 1 then
      local k = t[i - 1] * (V + 1) + t[i]
      bi[k] = (bi[k] or 0) + 1
      ctx[t[i - 1]] = ctx[t[i - 1]] + 1
    end
  end
  local u_bits, b_bits = 0, 0
  for i = 1, #v do
    local c = v[i]
    local pu = (uni[c] + 1) / (#t + V)
    u_bits = u_bits - math.log(pu)
    if i == 1 then
      b_bits = b_bits - math.log(pu)
    else
      local a = v[i - 1]
      b_bits = b_bits - math.log(((bi[a * (V + 1) + c] or 0) + 1) / (ctx[a] + V))
    end
  end
  return u_bits / #v / LOG2, b_bits / #v / LOG2
end

--- What both char examples start from: the corpus (a slice of it with
-- opts.quick), its vocabulary, both splits as ids on device, and the
-- baselines, with the two lines that report them printed.
-- @return {vocab=, train_ids=, valid_ids=, unigram=, bigram=}
function corpus.prepare(opts, device)
  local text = corpus.load(opts.corpus)
  if opts.quick then text.train, text.valid = text.train:sub(1, 200000), text.valid:sub(1, 4000) end
  local vocab = corpus.vocab(text.train)
  local unigram, bigram = corpus.baselines(vocab, text.train, text.valid)
  print(string.format("Corpus: %d fortunes (%d characters) to train, %d (%d) to validate; %d symbols%s",
    text.n_train, #text.train, text.n_valid, #text.valid, vocab.size, opts.quick and " (--quick: a slice)" or ""))
  print(string.format("Baselines on validation: unigram %.3f, bigram %.3f bits per character", unigram, bigram))
  return { vocab = vocab, train_ids = vocab:encode(text.train):to(device),
    valid_ids = vocab:encode(text.valid):to(device), unigram = unigram, bigram = bigram }
end

return corpus
