-- examples/char_transformer.lua: a small decoder-only Transformer (GPT) that
-- learns Debian's fortunes character by character, for a fixed time.
--
--   luann examples/char_transformer.lua [--minutes 10] [--steps 0] [--width 96] [--layers 3]
--     [--heads 4] [--context 64] [--batch-size 32] [--lr 0.006] [--warmup 50]
--     [--seed 1] [--device cpu] [--threads 0] [--corpus DIR] [--quick] [--train-only]
--     [--no-progress]
--
-- Token and position embeddings; per block, pre-norm causal multi-head
-- self-attention and a ReLU MLP (4x wide), each added to the residual; a final
-- LayerNorm and a linear read-out. AdamW, gradient clipping at 1, the learning
-- rate warmed up linearly, then decayed along a cosine to a tenth by the end
-- of the time budget. Training stops when --minutes are up (or after --steps
-- steps, which repeat exactly); then it prints the validation loss in bits
-- per character beside the unigram and bigram baselines, and samples at three
-- temperatures. The corpus and its split are examples/corpus.lua's;
-- bench/char_transformer.py is the PyTorch twin. --train-only stops after the
-- "Trained ... steps/s" line (bench/run.sh times the training step with it).
local luann = require "luann"
local nn, F, optim = luann.nn, luann.nn.functional, luann.optim
local here = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "examples/"
local common = dofile(here .. "common.lua")
local corpus = dofile(here .. "corpus.lua")
io.stdout:setvbuf("line") -- the progress lines of a long run show up in a log as they come

local USAGE = "usage: char_transformer.lua [--minutes X] [--steps N] [--width N] [--layers N] [--heads N] [--context N] "
  .. "[--batch-size N] [--lr X] [--warmup N] [--seed N] [--device NAME] [--threads N] [--corpus DIR] "
  .. "[--quick] [--train-only] [--no-progress]"
local opts = common.parse_args({ ... }, { minutes = 10, steps = 0, width = 96, layers = 3, heads = 4, context = 64,
  batch_size = 32, lr = 6e-3, warmup = 50, seed = 1, device = "cpu", threads = 0, corpus = corpus.DIR,
  quick = false, train_only = false, progress = true }, USAGE)
if opts.quick then -- a smoke run: a tiny model, a few steps, a slice of the corpus
  opts.width, opts.layers, opts.heads, opts.context, opts.batch_size = 32, 1, 2, 32, 8
  opts.steps, opts.warmup = 30, 5
end
-- --threads 0 (the default) keeps luann's own count: a thread per core, fewer
-- while other programs keep cores busy (luann.cpu.threads()); --threads N sets it.
if opts.threads > 0 then luann.set_num_threads(opts.threads) end
luann.manual_seed(opts.seed)
local device = luann.device(opts.device)

-- ---- data --------------------------------------------------------------------
local data = corpus.prepare(opts, device)
local vocab, train_ids, valid_ids = data.vocab, data.train_ids, data.valid_ids
local unigram, bigram = data.unigram, data.bigram

local T = opts.context
local windows = train_ids:unfold(1, T + 1, 1) -- (N - T, T + 1): every window, a view

-- A batch of random windows: inputs and targets (B, T), the targets one ahead.
local function batch()
  local starts = luann.randint(1, windows:size(1) + 1, { opts.batch_size }, { device = device })
  local w = windows:index_select(1, starts)
  return w:narrow(2, 1, T), w:narrow(2, 2, T)
end

-- ---- model -------------------------------------------------------------------
-- nn.TransformerEncoderLayer(width, heads, {norm_first = true, ...}) called
-- with {is_causal = true} is the same block; this one projects q, k and v
-- with one product instead of three, which measured 5-10% faster here. ReLU
-- rather than GPT's GELU: luann's gelu takes erf element by element, a quarter
-- of the step time at width 96, and ReLU learned as well in the PyTorch twin.
local Block = nn.Module:extend("Block")

function Block:__init(width, heads)
  self.heads = heads
  self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
  self.qkv = nn.Linear(width, 3 * width)
  self.proj = nn.Linear(width, width)
  self.fc1, self.fc2 = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)
end

function Block:forward(x) -- x (B, T, C)
  local B, L, C = x:size(1), x:size(2), x:size(3)
  local qkv = self.qkv(self.ln1(x)):view(B, L, 3, self.heads, C // self.heads):permute(3, 1, 4, 2, 5)
  local y = F.scaled_dot_product_attention(qkv[1], qkv[2], qkv[3], { is_causal = true }) -- (B, H, T, C/H)
  x = x + self.proj(y:transpose(2, 3):reshape(B, L, C))
  return x + self.fc2(F.relu(self.fc1(self.ln2(x))))
end

local GPT = nn.Module:extend("GPT")

function GPT:__init(o)
  self.tok = nn.Embedding(vocab.size, o.width)
  self.pos = nn.Embedding(o.context, o.width)
  local blocks = {}
  for i = 1, o.layers do blocks[i] = Block(o.width, o.heads) end
  self.blocks = nn.ModuleList(blocks)
  self.ln = nn.LayerNorm(o.width)
  self.head = nn.Linear(o.width, vocab.size)
  for name, p in self:named_parameters() do -- GPT-2's initialisation (LayerNorms keep theirs)
    if p:dim() >= 2 then
      nn.init.normal_(p, 0, 0.02)
    elseif not name:match("ln%d?%.") then
      nn.init.zeros_(p)
    end
  end
end

function GPT:forward(idx) -- idx (B, T) int64 ids; returns logits (B, T, V)
  local positions = luann.arange(1, idx:size(2) + 1, { device = idx.device })
  local x = self.tok(idx) + self.pos(positions)
  for _, block in ipairs(self.blocks) do x = block(x) end
  return self.head(self.ln(x))
end

local model = GPT(opts):to(device)
local n_params = 0
for _, p in ipairs(model:parameters()) do n_params = n_params + p:numel() end
print(string.format("Model: %d layers, %d heads, width %d, context %d: %d parameters", opts.layers,
  opts.heads, opts.width, T, n_params))

-- Cross entropy in bits per character of logits (B, T, V) against targets (B, T).
local function bits(logits, targets)
  local V = logits:size(3)
  return F.cross_entropy(logits:reshape(-1, V), targets:reshape(-1)) / math.log(2)
end

--- Bits per character over the first max_chars of ids (all by default), in
-- windows of T characters that overlap by half: each window scores its last
-- T/2 characters, which see at least T/2 before them (the first window scores
-- all of its characters).
local function evaluate(ids, max_chars)
  model:eval()
  local guard <close> = luann.no_grad()
  local half = T // 2
  local windows = ids:narrow(1, 1, math.min(ids:size(1), max_chars or math.huge)):unfold(1, T + 1, half)
  local W = windows:size(1)
  local function score(w, from) -- w (k, T + 1); bits summed over positions from..T
    local logits = model(w:narrow(2, 1, T)):narrow(2, from, T - from + 1)
    return bits(logits, w:narrow(2, from + 1, T - from + 1)):item() * w:size(1) * (T - from + 1)
  end
  local total = score(windows:narrow(1, 1, 1), 1) - score(windows:narrow(1, 1, 1), half + 1)
  local rows = math.max(1, 8192 // T)
  for first = 1, W, rows do
    total = total + score(windows:narrow(1, first, math.min(rows, W - first + 1)), half + 1)
  end
  model:train()
  return total / (half + W * (T - half))
end

-- ---- training ----------------------------------------------------------------
local decay, no_decay = {}, {} -- weight decay on the matrices only
for _, p in ipairs(model:parameters()) do
  table.insert(p:dim() >= 2 and decay or no_decay, p)
end
local optimizer = optim.AdamW({ { params = decay, weight_decay = 0.1 }, { params = no_decay, weight_decay = 0 } },
  { lr = opts.lr, betas = { 0.9, 0.99 } })

-- Linear warmup over opts.warmup steps, then a cosine from lr down to lr/10
-- over the time budget (the step count is not known in advance).
local function learning_rate(step, frac)
  local warm = math.min(1, step / opts.warmup)
  return opts.lr * warm * (0.1 + 0.9 * (1 + math.cos(math.pi * math.min(frac, 1))) / 2)
end

local budget = common.budget(opts.minutes, opts.steps > 0 and opts.steps or nil)
local bar = common.progress(budget:steps(), "Training", opts.progress)
local last_look, look = 0, nil -- validation bpc on the first 32K characters
for step in bar do
  local lr = learning_rate(step, budget:fraction())
  for _, group in ipairs(optimizer.param_groups) do group.lr = lr end
  local x, y = batch()
  local loss = bits(model(x), y)
  optimizer:zero_grad()
  loss:backward()
  nn.utils.clip_grad_norm_(model:parameters(), 1.0)
  optimizer:step()
  if not opts.quick and budget:elapsed() - last_look >= 120 then -- a look every 2 minutes, off the clock
    last_look, look = budget:elapsed(), budget:aside(evaluate, valid_ids, 32768)
    if not opts.progress then
      print(string.format("  step %d (%.0f s): training %.3f, validation %.3f bits per character (first 32K)",
        step, last_look, loss:item(), look))
    end
  end
  if opts.progress then bar:set_postfix({ bpc = loss, lr = lr, val = look }) end
end
local steps_done, train_seconds = budget.step, budget:elapsed()

-- ---- results -----------------------------------------------------------------
local eval_timer = luann.utils.Timer()
local bpc = not opts.train_only and evaluate(valid_ids)
print(string.format("Trained %d steps in %.1f minutes (%.2f steps/s, %.0f characters/s); evaluated in %.0f s",
  steps_done, train_seconds / 60, steps_done / train_seconds, steps_done * opts.batch_size * T / train_seconds,
  eval_timer:elapsed()))
if opts.train_only then return end -- bench/run.sh times the training steps alone
print(string.format("Validation: %.3f bits per character (unigram %.3f, bigram %.3f)", bpc, unigram, bigram))

--- Continues each row of ids (N, t) by n characters, sampling row i at
-- temperatures[i]; returns the new characters of each row as strings.
local function sample(ids, n, temperatures)
  model:eval()
  local guard <close> = luann.no_grad()
  local temp = luann.tensor(temperatures, { device = device }):view(-1, 1)
  local out = {}
  for _ = 1, n do
    local ctx = ids:size(2) > T and ids:narrow(2, ids:size(2) - T + 1, T) or ids
    local logits = model(ctx):select(2, ctx:size(2)) -- (N, V): the last position
    local next_id = luann.multinomial(F.softmax(logits / temp, -1), 1, { replacement = true })
    ids = luann.cat({ ids, next_id:to(device) }, 2)
    out[#out + 1] = next_id:cpu()
  end
  local cols = luann.cat(out, 2)
  local texts = {}
  for i = 1, #temperatures do texts[i] = vocab:decode(cols[i]) end
  return texts
end

local temperatures = { 0.5, 0.8, 1.0 }
local prompt = vocab:encode("\n"):view(1, 1):expand(#temperatures, 1):contiguous():to(device)
local texts = sample(prompt, opts.quick and 40 or 300, temperatures)
for i, t in ipairs(temperatures) do
  print(string.format("---- sample at temperature %.1f ----", t))
  print(texts[i])
end
