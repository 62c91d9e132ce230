-- examples/char_lstm.lua: Torch7's char-rnn in luann: a 2-layer LSTM that
-- learns Debian's fortunes character by character, for a fixed time.
--
--   luann examples/char_lstm.lua [--minutes 10] [--steps 0] [--hidden 192] [--embedding 64]
--     [--seq-length 64] [--batch-size 32] [--lr 0.003] [--seed 1] [--device cpu]
--     [--threads 0] [--corpus DIR] [--quick] [--train-only] [--no-progress]
--
-- An embedding, nn.LSTM with num_layers = 2, and a linear read-out. Truncated
-- backpropagation through time as char-rnn does it: the training text is cut
-- into batch-size streams read side by side, seq-length characters a step,
-- and the LSTM's state carries from one step to the next, detached so that
-- gradients stop at the step's start. Adam, gradient clipping at 1, the
-- learning rate decayed along a cosine to a tenth by the end of the time
-- budget (--minutes, or --steps steps, which repeat exactly). Prints the validation loss in bits per character beside the unigram
-- and bigram baselines, and samples at three temperatures. The corpus and its
-- split are examples/corpus.lua's, as in examples/char_transformer.lua.
-- --train-only stops after the "Trained ... steps/s" line (bench/run.sh times
-- the training step with it); bench/char_lstm.py is the PyTorch twin.
local luann = require "luann"
local nn, F, optim = luann.nn, luann.nn.functional, luann.optim
local here = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "examples/"
local common = dofile(here .. "common.lua")
local corpus = dofile(here .. "corpus.lua")
io.stdout:setvbuf("line") -- the progress lines of a long run show up in a log as they come

local USAGE = "usage: char_lstm.lua [--minutes X] [--steps N] [--hidden N] [--embedding N] [--seq-length N] "
  .. "[--batch-size N] [--lr X] [--seed N] [--device NAME] [--threads N] [--corpus DIR] [--quick] [--train-only] "
  .. "[--no-progress]"
local opts = common.parse_args({ ... }, { minutes = 10, steps = 0, hidden = 192, embedding = 64, seq_length = 64,
  batch_size = 32, lr = 3e-3, seed = 1, device = "cpu", threads = 0, corpus = corpus.DIR, quick = false,
  train_only = false, progress = true }, USAGE)
if opts.quick then -- a smoke run: a tiny model, a few steps, a slice of the corpus
  opts.hidden, opts.embedding, opts.seq_length, opts.batch_size, opts.steps = 32, 16, 16, 8, 30
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

--- ids (N) as B streams side by side: (B, N // B), row b the b-th stretch
-- of the text (what does not divide evenly dropped).
local function streams(ids, B)
  local n = ids:size(1) // B
  return ids:narrow(1, 1, B * n):view(B, n)
end

-- ---- model -------------------------------------------------------------------
local CharLSTM = nn.Module:extend("CharLSTM")

function CharLSTM:__init(o)
  self.embed = nn.Embedding(vocab.size, o.embedding)
  self.lstm = nn.LSTM(o.embedding, o.hidden, { num_layers = 2, batch_first = true })
  self.head = nn.Linear(o.hidden, vocab.size)
end

--- @param x (B, T) int64 ids
-- @param state {h, c}, each (2, B, hidden), or nil for zeros
-- @return logits (B, T, V), the state after the last step
function CharLSTM:forward(x, state)
  local out, new_state = self.lstm(self.embed(x), state)
  return self.head(out), new_state
end

local model = CharLSTM(opts):to(device)
local n_params = 0
for _, p in ipairs(model:parameters()) do n_params = n_params + p:numel() end
print(string.format("Model: embedding %d, 2-layer LSTM of %d, sequences of %d, batches of %d: %d parameters",
  opts.embedding, opts.hidden, opts.seq_length, opts.batch_size, n_params))

-- Cross entropy in bits per character of logits (B, T, V) against targets (B, T).
local function bits(logits, targets)
  local V = logits:size(3)
  return F.cross_entropy(logits:reshape(-1, V), targets:reshape(-1)) / math.log(2)
end

local function detach(state)
  return { state[1]:detach(), state[2]:detach() }
end

--- Bits per character over ids: read as 32 streams, seq-length characters
-- at a time, the state carried through, so each character is predicted from
-- all of its stream before it; the first max_chars of ids at most.
local function evaluate(ids, max_chars)
  model:eval()
  local guard <close> = luann.no_grad()
  local n = math.min(ids:size(1), max_chars or math.huge)
  local x_all, y_all = streams(ids:narrow(1, 1, n - 1), 32), streams(ids:narrow(1, 2, n - 1), 32)
  local total, count, state = 0, 0, nil
  for first = 1, x_all:size(2), opts.seq_length do
    local k = math.min(opts.seq_length, x_all:size(2) - first + 1)
    local logits
    logits, state = model(x_all:narrow(2, first, k), state)
    total = total + bits(logits, y_all:narrow(2, first, k)):item() * k
    count = count + k
  end
  model:train()
  return total / count
end

-- ---- training ----------------------------------------------------------------
local optimizer = optim.Adam(model:parameters(), { lr = opts.lr })
local B, T = opts.batch_size, opts.seq_length
local x_all, y_all -- (B, N // B) inputs and targets of the current pass
local position, state = 1, nil

-- The next step's inputs and targets (B, T); a new pass over the text starts
-- with a zero state and the streams shifted by a random offset.
local function next_batch()
  if x_all == nil or position + T - 1 > x_all:size(2) then
    local offset = luann.randint(0, T, { 1 }):item()
    local ids = train_ids:narrow(1, offset + 1, train_ids:size(1) - offset)
    x_all = streams(ids:narrow(1, 1, ids:size(1) - 1), B)
    y_all = streams(ids:narrow(1, 2, ids:size(1) - 1), B)
    position, state = 1, nil
  end
  local x, y = x_all:narrow(2, position, T), y_all:narrow(2, position, T)
  position = position + T
  return x, y
end

local budget = common.budget(opts.minutes, opts.steps > 0 and opts.steps or nil)
local bar = common.progress(budget:steps(), "Training", opts.progress)
local last_look, look = 0, nil -- validation bpc on the first 32K characters
for step in bar do
  local lr = opts.lr * (0.1 + 0.9 * (1 + math.cos(math.pi * budget:fraction())) / 2)
  optimizer.param_groups[1].lr = lr
  local x, y = next_batch()
  local logits
  logits, state = model(x, state)
  local loss = bits(logits, y)
  optimizer:zero_grad()
  loss:backward()
  nn.utils.clip_grad_norm_(model:parameters(), 1.0)
  optimizer:step()
  state = detach(state) -- truncated BPTT: the next step starts here, without history
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
  steps_done, train_seconds / 60, steps_done / train_seconds, steps_done * B * T / train_seconds,
  eval_timer:elapsed()))
if opts.train_only then return end -- bench/run.sh times the training steps alone
print(string.format("Validation: %.3f bits per character (unigram %.3f, bigram %.3f)", bpc, unigram, bigram))

--- n characters after a newline for each temperature, one sequence each,
-- the state carried from character to character.
local function sample(n, temperatures)
  model:eval()
  local guard <close> = luann.no_grad()
  local temp = luann.tensor(temperatures, { device = device }):view(-1, 1)
  local ids = vocab:encode("\n"):view(1, 1):expand(#temperatures, 1):contiguous():to(device)
  local out, s = {}, nil
  for i = 1, n do
    local logits
    logits, s = model(ids, s)
    ids = luann.multinomial(F.softmax(logits:select(2, 1) / temp, -1), 1, { replacement = true }):to(device)
    out[i] = ids:cpu()
  end
  local cols = luann.cat(out, 2)
  local texts = {}
  for i = 1, #temperatures do texts[i] = vocab:decode(cols[i]) end
  return texts
end

local temperatures = { 0.5, 0.8, 1.0 }
local texts = sample(opts.quick and 40 or 300, temperatures)
for i, t in ipairs(temperatures) do
  print(string.format("---- sample at temperature %.1f ----", t))
  print(texts[i])
end
