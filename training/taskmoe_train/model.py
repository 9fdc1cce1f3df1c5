"""Transformer encoder-decoder with task-level / token-level Mixture-of-Experts FFNs.

One definition for every variant; `enc_routing` / `dec_routing` pick `token`, `task` or `dense` per
stack. The exact semantics (which the TypeScript engine reimplements) are documented in
training/README.md, "Model definition". Shapes in comments: B batch, S source length, T target
length, N tokens, d d_model, E experts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

LANGS = ["de", "fr", "es", "it", "pt-br", "cs", "ru", "zh-cn"]
PAD, UNK, BOS, EOS = 0, 1, 2, 3
ROUTINGS = ("token", "task", "dense")


@dataclass
class ModelConfig:
    vocab_size: int = 8000
    d_model: int = 256
    n_heads: int = 4
    d_ff: int = 1024
    enc_layers: int = 4
    dec_layers: int = 4
    n_experts: int = 8
    top_k: int = 2
    enc_routing: str = "task"
    dec_routing: str = "task"
    n_tasks: int = len(LANGS)
    max_len: int = 256
    dropout: float = 0.05
    capacity_factor: float = 1.25  # token-routed layers, training only
    aux_loss_weight: float = 0.01
    ln_eps: float = 1e-5
    languages: list = field(default_factory=lambda: list(LANGS))

    def moe_layers(self, stack: str) -> list[int]:
        """Odd layer indices of `stack` ("encoder"/"decoder") when its routing is not dense."""
        routing = self.enc_routing if stack == "encoder" else self.dec_routing
        n = self.enc_layers if stack == "encoder" else self.dec_layers
        return [] if routing == "dense" else [i for i in range(n) if i % 2 == 1]

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "tiny": dict(d_model=32, n_heads=2, d_ff=64, enc_layers=2, dec_layers=2, n_experts=4, max_len=64, dropout=0.0),
    "small": dict(d_model=256, n_heads=4, d_ff=1024, enc_layers=4, dec_layers=4, n_experts=8, max_len=256, dropout=0.05),
    "base": dict(d_model=512, n_heads=8, d_ff=2048, enc_layers=6, dec_layers=6, n_experts=32, max_len=256, dropout=0.1),
}


def sinusoid(max_len: int, d: int) -> torch.Tensor:
    """pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(p / 10000^(2i/d)); positions from 0."""
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]  # [L, 1]
    i2 = torch.arange(0, d, 2, dtype=torch.float64)[None, :]  # [1, d/2]
    ang = pos / torch.pow(10000.0, i2 / d)  # [L, d/2]
    pe = torch.zeros(max_len, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(ang)
    pe[:, 1::2] = torch.cos(ang)
    return pe.float()  # [L, d]


class Attention(nn.Module):
    def __init__(self, d: int, n_heads: int):
        super().__init__()
        self.h, self.dh = n_heads, d // n_heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def split(self, x: torch.Tensor) -> torch.Tensor:
        B, L, _ = x.shape
        return x.view(B, L, self.h, self.dh).transpose(1, 2)  # [B, h, L, dh]

    def attend(self, q, k, v, mask) -> torch.Tensor:
        """q [B,h,Lq,dh], k/v [B,h,Lk,dh], mask bool [B,1|Lq,Lk] (True = may attend)."""
        s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.dh))  # [B, h, Lq, Lk]
        s = s.masked_fill(~mask[:, None], float("-inf"))
        p = torch.softmax(s.float(), dim=-1).to(v.dtype)  # f32 softmax also under bf16 autocast
        o = (p @ v).transpose(1, 2).reshape(q.shape[0], q.shape[2], -1)  # [B, Lq, d]
        return self.o(o)

    def forward(self, x, kv, mask) -> torch.Tensor:
        return self.attend(self.split(self.q(x)), self.split(self.k(kv)), self.split(self.v(kv)), mask)


class FFN(nn.Module):
    def __init__(self, d: int, d_ff: int):
        super().__init__()
        self.wi, self.wo = nn.Linear(d, d_ff), nn.Linear(d_ff, d)

    def forward(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        return self.wo(F.relu(self.wi(x))), x.new_zeros(())


class TokenGate(nn.Module):
    def __init__(self, d: int, E: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(E, d) * 0.02)  # [E, d]

    def forward(self, x, task):
        return x @ self.weight.t()  # [N, E]


class TaskGate(nn.Module):
    def __init__(self, n_tasks: int, E: int):
        super().__init__()
        self.table = nn.Parameter(torch.randn(n_tasks, E))  # [n_tasks, E]

    def forward(self, x, task):
        return self.table[task]  # [N, E]


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype autocast computes matmuls in on this device type, or None outside autocast (torch 1.13 and 2.x)."""
    if hasattr(torch, "get_autocast_dtype"):
        return torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else None
    if device_type == "cpu":
        return torch.get_autocast_cpu_dtype() if torch.is_autocast_cpu_enabled() else None
    return torch.get_autocast_gpu_dtype() if torch.is_autocast_enabled() else None


def top2(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-2 of probs [N, E], ties to the lower index; returns e1, e2 [N] and renormalised g1, g2 [N]."""
    e1 = probs.argmax(dim=-1)  # first maximal index
    p1 = probs.gather(1, e1[:, None])[:, 0]
    masked = probs.scatter(1, e1[:, None], float("-inf"))
    e2 = masked.argmax(dim=-1)
    p2 = probs.gather(1, e2[:, None])[:, 0]
    denom = p1 + p2
    return e1, e2, p1 / denom, p2 / denom


class MoE(nn.Module):
    """E ReLU experts with top-2 gating: y = g1 * FFN_e1(x) + g2 * FFN_e2(x)."""

    def __init__(self, cfg: ModelConfig, routing: str):
        super().__init__()
        d, f, E = cfg.d_model, cfg.d_ff, cfg.n_experts
        self.routing, self.E, self.cf = routing, E, cfg.capacity_factor
        self.gate = TokenGate(d, E) if routing == "token" else TaskGate(cfg.n_tasks, E)
        self.wi = nn.Parameter(torch.randn(E, f, d) * (1.0 / math.sqrt(d)))  # [E, d_ff, d]
        self.bi = nn.Parameter(torch.zeros(E, f))  # [E, d_ff]
        self.wo = nn.Parameter(torch.randn(E, d, f) * (1.0 / math.sqrt(f)))  # [E, d, d_ff]
        self.bo = nn.Parameter(torch.zeros(E, d))  # [E, d]

    def expert(self, e: int, x: torch.Tensor, w=None) -> torch.Tensor:
        wi, bi, wo, bo = w if w is not None else (self.wi, self.bi, self.wo, self.bo)
        return F.relu(x @ wi[e].t() + bi[e]) @ wo[e].t() + bo[e]  # [n, d]

    def forward(self, x: torch.Tensor, task: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, d] (real tokens only), task [N] -> y [N, d], load-balancing loss (scalar)."""
        N, E = x.shape[0], self.E
        probs = torch.softmax(self.gate(x, task).float(), dim=-1)  # [N, E]
        e1, e2, g1, g2 = top2(probs)
        # Load balancing (GShard): E * sum_e f_e * p_e; f_e = share of first choices (no gradient).
        f = torch.bincount(e1, minlength=E).float() / max(N, 1)
        aux = E * (f * probs.mean(dim=0)).sum()
        keep1 = torch.ones_like(e1, dtype=torch.bool)
        keep2 = torch.ones_like(e2, dtype=torch.bool)
        if self.training and self.routing == "token":
            # Capacity per expert; first choices are placed before second choices, in token order;
            # overflow assignments are dropped (the token then passes through the residual).
            cap = math.ceil(self.cf * 2 * N / E)
            oh1 = F.one_hot(e1, E)  # [N, E]
            oh2 = F.one_hot(e2, E)
            pos1 = (oh1.cumsum(0) - 1).gather(1, e1[:, None])[:, 0]
            pos2 = (oh2.cumsum(0) - 1 + oh1.sum(0, keepdim=True)).gather(1, e2[:, None])[:, 0]
            keep1, keep2 = pos1 < cap, pos2 < cap
        y = torch.zeros_like(x)
        idx = torch.cat([e1, e2])  # [2N]
        tok = torch.arange(N, device=x.device).repeat(2)
        w = torch.cat([g1, g2]).to(x.dtype)
        keep = torch.cat([keep1, keep2])
        # unbind once: the backward then stacks E gradients into one buffer; indexing self.wi[e] per expert would
        # allocate, zero and add a whole [E, d_ff, d] gradient for every expert (measured: 14 % of a bf16 step)
        # Under autocast, cast each stacked tensor once (autocast would cast every expert's slice on its own).
        dt = autocast_dtype(x.device.type) or self.wi.dtype
        w_e = tuple(p.to(dt).unbind(0) for p in (self.wi, self.bi, self.wo, self.bo))
        for e in range(E):
            sel = ((idx == e) & keep).nonzero()[:, 0]
            if sel.numel() == 0:
                continue
            t = tok[sel]
            y.index_add_(0, t, self.expert(e, x[t], w_e) * w[sel, None])
        return y, aux


class EncoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig, moe_routing: str | None):
        super().__init__()
        d = cfg.d_model
        self.self_attn_norm = nn.LayerNorm(d, eps=cfg.ln_eps)
        self.self_attn = Attention(d, cfg.n_heads)
        self.ffn_norm = nn.LayerNorm(d, eps=cfg.ln_eps)
        if moe_routing:
            self.moe = MoE(cfg, moe_routing)
        else:
            self.ffn = FFN(d, cfg.d_ff)
        self.drop = nn.Dropout(cfg.dropout)

    def ffn_block(self, h, pad_mask, task):
        """h [B, L, d], pad_mask [B, L] (True = real token), task [B]."""
        if not hasattr(self, "moe"):
            return self.ffn(h)
        B, L, d = h.shape
        flat = h.reshape(B * L, d)
        valid = pad_mask.reshape(-1)
        tok_task = task[:, None].expand(B, L).reshape(-1)
        y = torch.zeros_like(flat)
        out, aux = self.moe(flat[valid], tok_task[valid])
        y[valid] = out
        return y.view(B, L, d), aux

    def forward(self, x, src_mask, task):
        h = self.self_attn_norm(x)
        x = x + self.drop(self.self_attn(h, h, src_mask[:, None, :]))
        y, aux = self.ffn_block(self.ffn_norm(x), src_mask, task)
        return x + self.drop(y), aux


class DecoderLayer(EncoderLayer):
    def __init__(self, cfg: ModelConfig, moe_routing: str | None):
        super().__init__(cfg, moe_routing)
        self.cross_attn_norm = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.cross_attn = Attention(cfg.d_model, cfg.n_heads)

    def forward(self, x, tgt_mask, self_mask, enc, src_mask, task):
        h = self.self_attn_norm(x)
        x = x + self.drop(self.self_attn(h, h, self_mask))
        x = x + self.drop(self.cross_attn(self.cross_attn_norm(x), enc, src_mask[:, None, :]))
        y, aux = self.ffn_block(self.ffn_norm(x), tgt_mask, task)
        return x + self.drop(y), aux

    def step(self, x, cache, enc, src_mask, task):
        """One decoding step: x [B, 1, d]; cache holds this layer's self k/v and cross k/v."""
        a = self.self_attn
        h = self.self_attn_norm(x)
        k, v = a.split(a.k(h)), a.split(a.v(h))  # [B, h, 1, dh]
        if "k" in cache:
            k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
        cache["k"], cache["v"] = k, v
        allow = torch.ones(x.shape[0], 1, k.shape[2], dtype=torch.bool, device=x.device)
        x = x + a.attend(a.split(a.q(h)), k, v, allow)
        c = self.cross_attn
        if "ck" not in cache:
            cache["ck"], cache["cv"] = c.split(c.k(enc)), c.split(c.v(enc))
        x = x + c.attend(c.split(c.q(self.cross_attn_norm(x))), cache["ck"], cache["cv"], src_mask[:, None, :])
        y, _ = self.ffn_block(self.ffn_norm(x), torch.ones(x.shape[:2], dtype=torch.bool, device=x.device), task)
        return x + y


class Stack(nn.Module):
    def __init__(self, cfg: ModelConfig, name: str):
        super().__init__()
        routing = cfg.enc_routing if name == "encoder" else cfg.dec_routing
        n = cfg.enc_layers if name == "encoder" else cfg.dec_layers
        moe = set(cfg.moe_layers(name))
        layer = EncoderLayer if name == "encoder" else DecoderLayer
        self.layers = nn.ModuleList(layer(cfg, routing if i in moe else None) for i in range(n))
        self.norm = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)


class TaskMoETransformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        assert cfg.enc_routing in ROUTINGS and cfg.dec_routing in ROUTINGS and cfg.top_k == 2
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        nn.init.normal_(self.embed.weight, std=cfg.d_model**-0.5)
        self.encoder = Stack(cfg, "encoder")
        self.decoder = Stack(cfg, "decoder")
        self.register_buffer("pe", sinusoid(cfg.max_len, cfg.d_model), persistent=False)
        self.drop = nn.Dropout(cfg.dropout)

    def embed_ids(self, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """ids [B, L] -> E[id] * sqrt(d) + pe[offset + pos]  [B, L, d]."""
        x = self.embed(ids) * math.sqrt(self.cfg.d_model)
        return x + self.pe[offset : offset + ids.shape[1]][None]

    def encode(self, src: torch.Tensor, task: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src [B, S], task [B] -> enc [B, S, d] (after the final LN), aux loss."""
        src_mask = src != PAD  # [B, S]
        x = self.drop(self.embed_ids(src))
        aux = x.new_zeros(())
        for layer in self.encoder.layers:
            x, a = layer(x, src_mask, task)
            aux = aux + a
        return self.encoder.norm(x), aux

    def decode(self, tgt_in, enc, src_mask, task) -> tuple[torch.Tensor, torch.Tensor]:
        """tgt_in [B, T] -> logits [B, T, V], aux loss."""
        T = tgt_in.shape[1]
        tgt_mask = tgt_in != PAD  # [B, T]
        causal = torch.ones(T, T, dtype=torch.bool, device=tgt_in.device).tril()
        self_mask = causal[None] & tgt_mask[:, None, :]  # [B, T, T]
        x = self.drop(self.embed_ids(tgt_in))
        aux = x.new_zeros(())
        for layer in self.decoder.layers:
            x, a = layer(x, tgt_mask, self_mask, enc, src_mask, task)
            aux = aux + a
        h = self.decoder.norm(x)
        return h @ self.embed.weight.t(), aux  # [B, T, V] tied, no bias

    def forward(self, src, tgt_in, task):
        enc, aux_e = self.encode(src, task)
        logits, aux_d = self.decode(tgt_in, enc, src != PAD, task)
        return logits, aux_e + aux_d

    def n_moe_layers(self) -> int:
        return len(self.cfg.moe_layers("encoder")) + len(self.cfg.moe_layers("decoder"))

    # ------------------------------------------------------------------ inference

    def step_logits(self, y_prev, t, cache, enc, src_mask, task) -> torch.Tensor:
        """y_prev [B] token at position t -> next-token logits [B, V]."""
        x = self.embed_ids(y_prev[:, None], offset=t)  # [B, 1, d]
        for layer, c in zip(self.decoder.layers, cache):
            x = layer.step(x, c, enc, src_mask, task)
        return (self.decoder.norm(x) @ self.embed.weight.t())[:, 0]  # [B, V]

    @torch.no_grad()
    def greedy(self, src, task, max_steps: int = 128) -> list[list[int]]:
        """Greedy decoding of a padded batch; returns ids without <s>/</s>."""
        enc, _ = self.encode(src, task)
        src_mask = src != PAD
        B = src.shape[0]
        cache = [dict() for _ in self.decoder.layers]
        y = torch.full((B,), BOS, dtype=torch.long, device=src.device)
        out = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool)  # CPU
        for t in range(min(max_steps, self.cfg.max_len)):
            y = self.step_logits(y, t, cache, enc, src_mask, task).argmax(-1)
            for b in range(B):
                if not done[b]:
                    if y[b].item() == EOS:
                        done[b] = True
                    else:
                        out[b].append(y[b].item())
            if done.all():
                break
        return out

    @torch.no_grad()
    def beam(self, src, task, beam: int = 4, max_steps: int = 128, alpha: float = 0.6) -> list[list[int]]:
        """Beam search (GNMT length penalty ((5+len)/6)^alpha) on a padded batch."""
        enc, _ = self.encode(src, task)
        B, S = src.shape
        K, V = beam, self.cfg.vocab_size
        enc = enc.repeat_interleave(K, 0)
        src_mask = (src != PAD).repeat_interleave(K, 0)
        taskk = task.repeat_interleave(K, 0)
        cache = [dict() for _ in self.decoder.layers]
        dev = src.device
        y = torch.full((B * K,), BOS, dtype=torch.long, device=dev)
        score = torch.full((B, K), float("-inf"))  # bookkeeping on the CPU
        score[:, 0] = 0.0
        hyps = [[[] for _ in range(K)] for _ in range(B)]
        finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]
        steps = min(max_steps, self.cfg.max_len)
        for t in range(steps):
            logp = torch.log_softmax(self.step_logits(y, t, cache, enc, src_mask, taskk).float(), -1).cpu().view(B, K, V)
            cand = (score[:, :, None] + logp).view(B, K * V)
            top, ti = cand.topk(2 * K, dim=-1)
            new_score = torch.full((B, K), float("-inf"))
            src_beam = torch.zeros(B, K, dtype=torch.long)
            new_tok = torch.full((B, K), EOS, dtype=torch.long)
            new_hyps = [[[] for _ in range(K)] for _ in range(B)]
            for b in range(B):
                j = 0
                for s, i in zip(top[b].tolist(), ti[b].tolist()):
                    if s == float("-inf"):
                        break
                    k, tokid = divmod(i, V)
                    if tokid == EOS or t == steps - 1:
                        seq = hyps[b][k] + ([] if tokid == EOS else [tokid])
                        finished[b].append((s / (((5 + len(seq) + 1) / 6) ** alpha), seq))
                        continue
                    if j < K:
                        new_score[b, j], src_beam[b, j], new_tok[b, j] = s, k, tokid
                        new_hyps[b][j] = hyps[b][k] + [tokid]
                        j += 1
                # stop this sentence once its best finished beats every live hypothesis's best possible
                if len(finished[b]) >= K:
                    best_fin = max(f[0] for f in finished[b])
                    best_live = new_score[b].max().item() / (((5 + steps) / 6) ** alpha)
                    if best_live < best_fin:
                        new_score[b] = float("-inf")
            if torch.isinf(new_score).all():
                break
            flat = (torch.arange(B)[:, None] * K + src_beam).view(-1).to(dev)
            for c in cache:
                for key in ("k", "v"):
                    c[key] = c[key].index_select(0, flat)
            score, hyps, y = new_score, new_hyps, new_tok.view(-1).to(dev)
        return [max(f, key=lambda z: z[0])[1] if f else [] for f in finished]


def fold_task_experts(moe: MoE, task: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Task-routed MoE layer -> one dense FFN of width 2*d_ff for `task` (exact, nothing dropped).

    wi = [wi_e1; wi_e2] [2f, d], bi = [bi_e1; bi_e2] [2f], wo = [g1*wo_e1 | g2*wo_e2] [d, 2f],
    bo = g1*bo_e1 + g2*bo_e2 [d].
    """
    assert moe.routing == "task"
    probs = torch.softmax(moe.gate.table[task].float()[None], dim=-1)  # [1, E]
    e1, e2, g1, g2 = (z[0] for z in top2(probs))
    wi = torch.cat([moe.wi[e1], moe.wi[e2]], 0)
    bi = torch.cat([moe.bi[e1], moe.bi[e2]], 0)
    wo = torch.cat([g1 * moe.wo[e1], g2 * moe.wo[e2]], 1)
    bo = g1 * moe.bo[e1] + g2 * moe.bo[e2]
    return wi, bi, wo, bo


def param_counts(model: TaskMoETransformer) -> dict:
    """total; active per token (2 of E experts in every MoE layer); extracted per task (task-routed
    MoE layers folded to their two experts, gate tables dropped; token-routed layers keep everything)."""
    cfg = model.cfg
    total = sum(p.numel() for p in model.parameters())
    per_expert = 2 * cfg.d_model * cfg.d_ff + cfg.d_ff + cfg.d_model
    active = extracted = total
    for stack in ("encoder", "decoder"):
        routing = cfg.enc_routing if stack == "encoder" else cfg.dec_routing
        for i in cfg.moe_layers(stack):
            moe = getattr(model, stack).layers[i].moe
            gate = sum(p.numel() for p in moe.gate.parameters())
            active -= (cfg.n_experts - 2) * per_expert
            if routing == "task":
                extracted -= (cfg.n_experts - 2) * per_expert + gate
    return {"total": total, "active_per_token": active, "extracted_per_task": extracted}
