"""Eager-PyTorch reference for `gpas bench train`: the same LLaMA layout (RMSNorm, rotary
attention, SwiGLU MLP, untied head), Pre-LN with optional GPAS after each sub-layer, trained on
random tokens with Adam, written the way the paper's reference script is (eager modules, explicit
attention on PyTorch 1.13). Debian's python3-torch runs it on the same LibTorch kernels as gpas:

    sudo apt-get install python3-torch
    python3 bench/reference_eager.py --size 9m --gpas --batch 16 --seq 256 --steps 20

It prints the median step time, tokens/s and peak memory in the same JSON keys as
`gpas bench train --json`. On a GPU (`--device cuda --precision bf16`) it is the side of the
side-by-side benchmark that scripts/gpu-check.sh runs.

Choices kept from the paper's code (HF transformers' LLaMA, which it builds on): separate q/k/v
projections; RMSNorm computed in fp32 and cast back; rotary embedding applied to q and k as HF
computes it (rotate-half, cos/sin tables); the loss on the fully materialised logits, upcast to
fp32, shifted by one; torch.optim.Adam; pure bf16 by casting the whole model (`--precision bf16`).
Remaining differences: attention is written out (softmax of q k^T) on PyTorch 1.13 and uses
F.scaled_dot_product_attention where it exists, as HF's "sdpa" attention does in 2.x; random tokens
stand in for C4; no data loader, no gradient accumulation, no logging.

Why it is faster than the paper's own modeling code (its peft_pretraining/modeling_llama.py): the
model takes the inputs and the targets already shifted, where the paper's takes labels = inputs and
shifts the logits after the head, logits[..., :-1, :].contiguous(): a copy of the (B, T-1, V) fp32
logits forward (522 MB at 16 x 256 x 32000) and a zero-filled (B, T, V) gradient backward. The
paper's code also builds a (B, 1, T, T) mask every forward that its attention never reads, and
gathers cos/sin by position in every layer. --paper-shift and --paper-masks redo that work. At 9m,
Pre-LN + GPAS, 16 x 256, 2 threads, with the allocator setting (three rounds of the three runs
below, 2026-12-03): 2,326-2,650 tokens/s without either, 2,174-2,209 with --paper-shift, and
2,002-2,367 with both. The copy costs about a tenth of the step, as the 3,186 against about 2,900
reported for the two; the masks are within the noise.
"""
import argparse, json, math, os, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F

SIZES = {"tiny": (64, 176, 4, 2), "9m": (128, 352, 4, 4), "20m": (256, 688, 4, 4),
         "35m": (384, 1024, 8, 6), "60m": (512, 1376, 8, 8), "71m": (512, 1368, 8, 12),
         "130m": (768, 2048, 12, 12), "350m": (1024, 2736, 16, 24), "1b": (2048, 5461, 32, 24)}


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):  # as HF's LlamaRMSNorm: in fp32, then back to the input's dtype
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotary(x, cos, sin):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class Block(nn.Module):
    def __init__(self, d, ff, heads, gpas):
        super().__init__()
        self.h = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
        self.gate_proj, self.up, self.down = (nn.Linear(d, ff, bias=False), nn.Linear(d, ff, bias=False),
                                              nn.Linear(ff, d, bias=False))
        self.n1, self.n2 = RMSNorm(d), RMSNorm(d)
        self.alpha = nn.Parameter(torch.zeros(1)) if gpas else None

    def scale(self, x):  # GPAS: forward (1 - silu(a)) x, identity gradient to x
        if self.alpha is None:
            return x
        return x - F.silu(self.alpha) * x.detach()

    def attn(self, x, cos, sin, mask):
        B, T, D = x.shape
        q, k, v = (p(x).view(B, T, self.h, D // self.h).transpose(1, 2) for p in (self.q, self.k, self.v))
        q, k = rotary(q, cos.to(q.dtype), sin.to(q.dtype)), rotary(k, cos.to(k.dtype), sin.to(k.dtype))
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) / math.sqrt(D // self.h)
            att = F.softmax(att.masked_fill(mask, float("-inf")), dim=-1)
            y = att @ v
        return self.o(y.transpose(1, 2).reshape(B, T, D))

    def forward(self, x, cos, sin, mask):
        x = self.scale(x + self.attn(self.n1(x), cos, sin, mask))
        h = self.n2(x)  # once: the MLP's two input projections read the same norm, as in gpas
        return self.scale(x + self.down(F.silu(self.gate_proj(h)) * self.up(h)))


class Model(nn.Module):
    def __init__(self, size, vocab, gpas, seq, layers=0):
        super().__init__()
        d, ff, heads, preset_layers = SIZES[size]
        layers = layers or preset_layers
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, ff, heads, gpas) for _ in range(layers))
        self.norm, self.head = RMSNorm(d), nn.Linear(d, vocab, bias=False)
        hd = d // heads
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        f = torch.outer(torch.arange(seq).float(), inv)
        emb = torch.cat((f, f), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        self.register_buffer("mask", torch.ones(seq, seq, dtype=torch.bool).triu(1), persistent=False)

    def forward(self, idx, targets, paper_shift=False, paper_masks=False):
        B, T = idx.shape
        x = self.embed(idx)
        cos, sin = self.cos[:T], self.sin[:T]
        if paper_masks:
            # The paper's LlamaModel builds the (B, 1, T, T) additive causal + padding mask every
            # forward (its attention, SDPA with is_causal, never reads it), and each layer gathers
            # cos/sin by position_ids into (B, 1, T, hd).
            neg = torch.finfo(x.dtype).min
            causal = torch.full((T, T), neg, device=x.device).masked_fill_(
                torch.arange(T, device=x.device) < (torch.arange(T, device=x.device) + 1).view(T, 1), 0)
            pad = 1.0 - torch.ones(B, T, device=x.device)[:, None, None, :].expand(B, 1, T, T)
            _ = pad.masked_fill(pad.to(torch.bool), neg) + causal[None, None]
            pos = torch.arange(T, device=x.device).unsqueeze(0).view(-1, T)
        for b in self.blocks:
            if paper_masks:
                cos, sin = self.cos[pos].unsqueeze(1), self.sin[pos].unsqueeze(1)
            x = b(x, cos, sin, self.mask[:T, :T])
        logits = self.head(self.norm(x)).float()  # (B, T, V), materialised, fp32 as HF does
        if paper_shift:
            # The paper's loss: the labels are the inputs, and the logits are shifted by a copy,
            # logits[..., :-1, :].contiguous() (its backward zero-fills a (B, T, V) gradient).
            logits, targets = logits[..., :-1, :].contiguous(), idx[..., 1:].contiguous()
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="9m", choices=sorted(SIZES))
    ap.add_argument("--gpas", action="store_true")
    ap.add_argument("--layers", type=int, default=0, help="layers (default: the preset's), as gpas's --layers")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--paper-shift", action="store_true",
                    help="shift the logits by a copy after the head, as the paper's code does")
    ap.add_argument("--paper-masks", action="store_true",
                    help="build the paper's unused 4-D mask and per-layer position gather")
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("GPAS_THREADS", os.cpu_count())))
    torch.manual_seed(0)
    dev = torch.device(a.device)
    model = Model(a.size, a.vocab, a.gpas, a.seq, a.layers).to(dev)
    if a.precision == "bf16":
        model = model.to(torch.bfloat16)  # the paper's script casts the whole model
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    tok = torch.randint(0, a.vocab, (a.batch, a.seq + 1), device=dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for s in range(a.warmup + a.steps):
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        model(tok[:, :-1], tok[:, 1:], a.paper_shift, a.paper_masks).backward()
        opt.step()
        sync()
        if s >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    if dev.type == "cuda":
        peak, kind = torch.cuda.max_memory_allocated(), "cuda caching allocator, peak allocated"
    else:
        import resource
        peak, kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "process max RSS"
    print(json.dumps({"impl": "eager pytorch " + torch.__version__, "size": a.size, "layers": len(model.blocks),
                      "vocab": a.vocab, "gpas": a.gpas,
                      "precision": a.precision, "device": a.device, "batch": a.batch, "seq": a.seq,
                      "threads": torch.get_num_threads(), "paper_shift": a.paper_shift,
                      "paper_masks": a.paper_masks, "median_step_s": med,
                      "tokens_per_second": a.batch * a.seq / med,
                      "peak_memory_bytes": peak, "peak_memory_kind": kind}))


if __name__ == "__main__":
    main()
