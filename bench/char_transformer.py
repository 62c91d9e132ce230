"""bench/char_transformer.py: examples/char_transformer.lua in PyTorch, its twin.

The same corpus and split (examples/corpus.lua ported line for line: the text
files of Debian's fortunes in sorted order without art and ascii-art,
overstrike removed, cut at the "%" lines, 10% of the fortunes to validation
by the same 32-bit LCG shuffle), the same vocabulary and baselines, the same
model (token and position embeddings, pre-norm blocks of causal multi-head
self-attention and a 4x ReLU MLP, GPT-2's initialisation), AdamW with weight
decay on the matrices, gradient clipping at 1, linear warmup then a cosine to
a tenth over the time budget, and the same evaluation (windows of the
context length overlapping by half). Prints the same lines, among them
"Validation: x bits per character (unigram u, bigram b)".

    /usr/bin/python3 bench/char_transformer.py [--minutes 10 | --steps N] [--threads 1] [--seed 1] ...

Debian's torch is 1.13, which has no F.scaled_dot_product_attention: the
attention is written out (softmax of masked q k^T / sqrt(d), times v).
"""
import argparse
import math
import os
import re
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DIR = "/usr/share/games/fortunes"
SKIP = {"art", "ascii-art"}
SPLIT_SEED = 1234
VALID_FRACTION = 0.1


# ---- corpus (examples/corpus.lua) --------------------------------------------

def strip_overstrike(s):
    n = 1
    while n:
        s, n = re.subn(rb"[^\x08]\x08", b"", s)
    return s


def split_fortunes(text, out):
    if not text.endswith(b"\n"):
        text += b"\n"
    cur = []
    for line in text.split(b"\n")[:-1]:
        if line == b"%":
            f = b"".join(cur)
            if f.strip():
                out.append(f)
            cur = []
        else:
            cur.append(line + b"\n")
    f = b"".join(cur)
    if f.strip():
        out.append(f)
    return out


def lcg(seed):
    x = seed & 0xFFFFFFFF
    while True:
        x = (1664525 * x + 1013904223) & 0xFFFFFFFF
        yield x


def load(directory=DIR):
    names = sorted(n for n in os.listdir(directory) if "." not in n and n not in SKIP)
    fortunes = []
    for name in names:
        with open(os.path.join(directory, name), "rb") as f:
            split_fortunes(strip_overstrike(f.read()), fortunes)
    n = len(fortunes)
    perm = list(range(n))
    rand = lcg(SPLIT_SEED)
    for i in range(n - 1, 0, -1):  # Fisher-Yates, as the Lua one with 0-based indices
        j = next(rand) % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    valid_set = set(perm[:int(n * VALID_FRACTION)])
    train = b"".join(f for i, f in enumerate(fortunes) if i not in valid_set)
    valid = b"".join(f for i, f in enumerate(fortunes) if i in valid_set)
    return train, valid, n - len(valid_set), len(valid_set)


class Vocab:
    """The bytes of the training text as ids 0..n-1, and n for <unk>."""

    def __init__(self, text):
        self.bytes = sorted(set(text))
        self.id = {b: i for i, b in enumerate(self.bytes)}
        self.unk = len(self.bytes)
        self.size = self.unk + 1

    def ids(self, s):
        return [self.id.get(b, self.unk) for b in s]

    def encode(self, s):
        return torch.tensor(self.ids(s), dtype=torch.long)

    def decode(self, ids):
        return bytes(self.bytes[i] if i < self.unk else 63 for i in ids).decode("utf-8", "replace")


def baselines(vocab, train, valid):
    """Bits per character of add-one smoothed unigram and bigram models."""
    V = vocab.size
    t, v = vocab.ids(train), vocab.ids(valid)
    uni, ctx, bi = [0] * V, [0] * V, {}
    for i, c in enumerate(t):
        uni[c] += 1
        if i > 0:
            bi[(t[i - 1], c)] = bi.get((t[i - 1], c), 0) + 1
            ctx[t[i - 1]] += 1
    u_bits = b_bits = 0.0
    for i, c in enumerate(v):
        pu = (uni[c] + 1) / (len(t) + V)
        u_bits -= math.log(pu)
        if i == 0:
            b_bits -= math.log(pu)
        else:
            a = v[i - 1]
            b_bits -= math.log((bi.get((a, c), 0) + 1) / (ctx[a] + V))
    return u_bits / len(v) / math.log(2), b_bits / len(v) / math.log(2)


# ---- model -------------------------------------------------------------------

class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.fc1, self.fc2 = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, x):
        B, L, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, L, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / math.sqrt(C // self.heads)
        blocked = torch.ones(L, L, dtype=torch.bool, device=x.device).triu(1)
        y = scores.masked_fill(blocked, float("-inf")).softmax(-1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(B, L, C))
        return x + self.fc2(F.relu(self.fc1(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab_size, o):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, o.width)
        self.pos = nn.Embedding(o.context, o.width)
        self.blocks = nn.ModuleList([Block(o.width, o.heads) for _ in range(o.layers)])
        self.ln = nn.LayerNorm(o.width)
        self.head = nn.Linear(o.width, vocab_size)
        for name, p in self.named_parameters():  # GPT-2's initialisation (LayerNorms keep theirs)
            if p.dim() >= 2:
                nn.init.normal_(p, 0, 0.02)
            elif not re.search(r"ln\d?\.", name):
                nn.init.zeros_(p)

    def forward(self, idx):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def bits(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)) / math.log(2)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--steps", type=int, default=0, help="train this many steps instead of --minutes")
    p.add_argument("--width", type=int, default=96)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=6e-3)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="0: torch's default")
    p.add_argument("--corpus", default=DIR)
    p.add_argument("--train-only", action="store_true", help="stop after the steps/s line (bench/run.sh)")
    o = p.parse_args()
    if o.threads > 0:
        torch.set_num_threads(o.threads)
    torch.manual_seed(o.seed)

    train, valid, n_train, n_valid = load(o.corpus)
    vocab = Vocab(train)
    train_ids, valid_ids = vocab.encode(train), vocab.encode(valid)
    unigram, bigram = baselines(vocab, train, valid)
    print(f"Corpus: {n_train} fortunes ({len(train)} characters) to train, {n_valid} ({len(valid)}) "
          f"to validate; {vocab.size} symbols")
    print(f"Baselines on validation: unigram {unigram:.3f}, bigram {bigram:.3f} bits per character")
    T = o.context
    windows = train_ids.unfold(0, T + 1, 1)

    model = GPT(vocab.size, o)
    print(f"Model: {o.layers} layers, {o.heads} heads, width {o.width}, context {T}: "
          f"{sum(p.numel() for p in model.parameters())} parameters")

    def evaluate(ids, max_chars=None):
        """As the Lua one: windows of T overlapping by half, each scoring its last T/2."""
        model.eval()
        half = T // 2
        windows = ids[:max_chars or len(ids)].unfold(0, T + 1, half)
        W = len(windows)

        def score(w, start):  # bits summed over positions start..T-1 (0-based)
            logits = model(w[:, :T])[:, start:]
            return bits(logits, w[:, start + 1:]).item() * len(w) * (T - start)

        with torch.no_grad():
            total = score(windows[:1], 0) - score(windows[:1], half)
            rows = max(1, 8192 // T)
            for first in range(0, W, rows):
                total += score(windows[first:first + rows], half)
        model.train()
        return total / (half + W * (T - half))

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0}],
                            lr=o.lr, betas=(0.9, 0.99))
    budget = o.minutes * 60
    start, paused, last_look, step = time.time(), 0.0, 0.0, 0
    def elapsed():
        return time.time() - start - paused

    while (step < o.steps) if o.steps else (elapsed() < budget):
        step += 1
        frac = step / o.steps if o.steps else min(1.0, elapsed() / budget)
        lr = o.lr * min(1, step / o.warmup) * (0.1 + 0.9 * (1 + math.cos(math.pi * frac)) / 2)
        for g in opt.param_groups:
            g["lr"] = lr
        w = windows[torch.randint(0, len(windows), (o.batch_size,))]
        loss = bits(model(w[:, :T]), w[:, 1:])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if elapsed() - last_look >= 120:
            last_look = elapsed()
            t = time.time()
            look = evaluate(valid_ids, 32768)
            paused += time.time() - t
            print(f"  step {step} ({last_look:.0f} s): training {loss.item():.3f}, validation {look:.3f} "
                  "bits per character (first 32K)", flush=True)
    seconds = elapsed()
    t = time.time()
    bpc = None if o.train_only else evaluate(valid_ids)
    print(f"Trained {step} steps in {seconds / 60:.1f} minutes ({step / seconds:.2f} steps/s, "
          f"{step * o.batch_size * T / seconds:.0f} characters/s); evaluated in {time.time() - t:.0f} s")
    if o.train_only:
        return
    print(f"Validation: {bpc:.3f} bits per character (unigram {unigram:.3f}, bigram {bigram:.3f})")

    model.eval()
    temps = torch.tensor([0.5, 0.8, 1.0]).view(-1, 1)
    ids = torch.full((3, 1), vocab.id[ord("\n")], dtype=torch.long)
    with torch.no_grad():
        for _ in range(300):
            logits = model(ids[:, -T:])[:, -1]
            ids = torch.cat([ids, torch.multinomial(F.softmax(logits / temps, -1), 1)], 1)
    for i, t in enumerate(temps.view(-1).tolist()):
        print(f"---- sample at temperature {t:.1f} ----")
        print(vocab.decode(ids[i, 1:].tolist()))


if __name__ == "__main__":
    main()
