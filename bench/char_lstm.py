"""bench/char_lstm.py: examples/char_lstm.lua in PyTorch, its twin.

The same corpus, split, vocabulary and baselines (bench/char_transformer.py's
port of examples/corpus.lua), the same model (an embedding of 64, a 2-layer
LSTM of 192 with batch_first, a linear read-out), the same training
(truncated backpropagation through time over batch-size streams read side
by side, seq-length characters a step, the state carried and detached; a
new pass over the text starts from a random offset with a zero state; Adam
lr 3e-3, gradient clipping at 1, the rate decayed along a cosine to a tenth
by the end of the budget) and the same evaluation (32 streams, the state
carried through). Prints the same lines, among them "Trained N steps in
... (x steps/s, ...)" and "Validation: x bits per character (...)".

    /usr/bin/python3 bench/char_lstm.py [--minutes 10 | --steps N] [--threads 1] [--seed 1] ...
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from char_transformer import DIR, Vocab, baselines, bits, load


class CharLSTM(nn.Module):
    def __init__(self, vocab_size, o):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, o.embedding)
        self.lstm = nn.LSTM(o.embedding, o.hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(o.hidden, vocab_size)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def streams(ids, B):
    """ids (N) as B streams side by side: (B, N // B), row b the b-th stretch."""
    n = len(ids) // B
    return ids[:B * n].view(B, n)


def detach(state):
    return tuple(s.detach() for s in state)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--steps", type=int, default=0, help="train this many steps instead of --minutes")
    p.add_argument("--hidden", type=int, default=192)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--seq-length", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="0: torch's default")
    p.add_argument("--corpus", default=DIR)
    p.add_argument("--train-only", action="store_true", help="stop after the steps/s line (bench/run.sh)")
    p.add_argument("--quick", action="store_true", help="a tiny model, 30 steps, a slice of the corpus")
    o = p.parse_args()
    if o.quick:
        o.hidden, o.embedding, o.seq_length, o.batch_size, o.steps = 32, 16, 16, 8, 30
    if o.threads > 0:
        torch.set_num_threads(o.threads)
    torch.manual_seed(o.seed)

    train, valid, n_train, n_valid = load(o.corpus)
    if o.quick:
        train, valid = train[:200000], valid[:4000]
    vocab = Vocab(train)
    train_ids, valid_ids = vocab.encode(train), vocab.encode(valid)
    unigram, bigram = baselines(vocab, train, valid)
    print(f"Corpus: {n_train} fortunes ({len(train)} characters) to train, {n_valid} ({len(valid)}) "
          f"to validate; {vocab.size} symbols{' (--quick: a slice)' if o.quick else ''}")
    print(f"Baselines on validation: unigram {unigram:.3f}, bigram {bigram:.3f} bits per character")

    model = CharLSTM(vocab.size, o)
    print(f"Model: embedding {o.embedding}, 2-layer LSTM of {o.hidden}, sequences of {o.seq_length}, "
          f"batches of {o.batch_size}: {sum(p.numel() for p in model.parameters())} parameters")

    def evaluate(ids, max_chars=None):
        model.eval()
        n = min(len(ids), max_chars or len(ids))
        x_all, y_all = streams(ids[:n - 1], 32), streams(ids[1:n], 32)
        total, count, state = 0.0, 0, None
        with torch.no_grad():
            for first in range(0, x_all.shape[1], o.seq_length):
                k = min(o.seq_length, x_all.shape[1] - first)
                logits, state = model(x_all[:, first:first + k], state)
                total += bits(logits, y_all[:, first:first + k]).item() * k
                count += k
        model.train()
        return total / count

    opt = torch.optim.Adam(model.parameters(), lr=o.lr)
    B, T = o.batch_size, o.seq_length
    pass_ = {"x": None, "y": None, "position": 0, "state": None}

    def next_batch():
        """The next step's inputs and targets (B, T); a new pass starts with a zero
        state and the streams shifted by a random offset."""
        if pass_["x"] is None or pass_["position"] + T > pass_["x"].shape[1]:
            offset = torch.randint(0, T, (1,)).item()
            ids = train_ids[offset:]
            pass_.update(x=streams(ids[:-1], B), y=streams(ids[1:], B), position=0, state=None)
        i = pass_["position"]
        pass_["position"] = i + T
        return pass_["x"][:, i:i + T], pass_["y"][:, i:i + T]

    budget = o.minutes * 60
    start, paused, last_look, step = time.time(), 0.0, 0.0, 0

    def elapsed():
        return time.time() - start - paused

    while (step < o.steps) if o.steps else (elapsed() < budget):
        step += 1
        frac = min(1.0, step / o.steps) if o.steps else min(1.0, elapsed() / budget)
        for g in opt.param_groups:
            g["lr"] = o.lr * (0.1 + 0.9 * (1 + math.cos(math.pi * frac)) / 2)
        x, y = next_batch()
        logits, state = model(x, pass_["state"])
        loss = bits(logits, y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        pass_["state"] = detach(state)  # truncated BPTT: the next step starts here
        if not o.quick and elapsed() - last_look >= 120:  # a look every 2 minutes, off the clock
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
          f"{step * B * T / seconds:.0f} characters/s); evaluated in {time.time() - t:.0f} s")
    if o.train_only:
        return
    print(f"Validation: {bpc:.3f} bits per character (unigram {unigram:.3f}, bigram {bigram:.3f})")

    model.eval()
    temps = torch.tensor([0.5, 0.8, 1.0]).view(-1, 1)
    ids = torch.full((3, 1), vocab.id[ord("\n")], dtype=torch.long)
    out, s = [], None
    with torch.no_grad():
        for _ in range(40 if o.quick else 300):
            logits, s = model(ids, s)
            ids = torch.multinomial(F.softmax(logits[:, 0] / temps, -1), 1)
            out.append(ids)
    cols = torch.cat(out, 1)
    for i, t in enumerate(temps.view(-1).tolist()):
        print(f"---- sample at temperature {t:.1f} ----")
        print(vocab.decode(cols[i].tolist()))


if __name__ == "__main__":
    main()
