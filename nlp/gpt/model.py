"""GPT (Radford et al. 2018/2019) from its components, small enough to train on a 2-core CPU.

    token ids [B, T]
      -> token embedding (wte) + learned position embedding (wpe) -> dropout
      -> n_layer x Block:  x = x + Attention(LN(x));  x = x + MLP(LN(x))      (pre-LayerNorm, GPT-2)
      -> final LayerNorm (ln_f)                                                -> hidden states [B, T, C]
      -> LM head = wte.weight^T (tied)                                         -> logits [B, T, vocab]

`GPT.hidden_states` is what embed.py pools into a tweet vector; `GPT.forward` is the language model.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 8192  # BPE vocabulary incl. the special tokens (<pad>, <s>, </s>)
    block_size: int = 64  # context length; 99% of tweets fit in 64 byte-level BPE tokens
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    dropout: float = 0.1
    bias: bool = True  # biases in Linear/LayerNorm, as in GPT-2
    pad_id: int = 0  # ignored by the loss


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees only positions <= t.

    Two implementations of the same function: `F.scaled_dot_product_attention` (fused, fast) and
    `reference` (explicit scores, mask and softmax, what the paper writes down). The tests prove
    they agree; `return_weights=True` always uses the reference path because SDPA never
    materializes the attention matrix.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        assert config.n_embd % config.n_head == 0, "n_embd must be divisible by n_head"
        self.n_head = config.n_head
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v in one matmul
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.c_proj.residual = True  # tells GPT._init_weights to scale this init by 1/sqrt(2 n_layer)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        mask = torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool))
        self.register_buffer("mask", mask.view(1, 1, config.block_size, config.block_size), persistent=False)

    def forward(self, x, reference: bool = False, return_weights: bool = False):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # [B, T, C] -> [B, heads, T, head_dim]: each head attends in its own C/heads-dim subspace
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        weights = None
        if reference or return_weights:
            y, weights = self.reference(q, k, v)
        else:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # concatenate the heads
        y = self.resid_dropout(self.c_proj(y))
        return (y, weights) if return_weights else y

    def reference(self, q, k, v):
        T = q.size(-2)
        # 1/sqrt(d) keeps the logits' variance ~1 so the softmax doesn't saturate at init
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))
        att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        weights = att
        att = self.attn_dropout(att)
        return att @ v, weights


class MLP(nn.Module):
    """Position-wise feed-forward: expand 4x, GELU, project back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's GELU
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.c_proj.residual = True
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-LN residual block: LayerNorm *before* each sublayer keeps the residual stream an identity
    path, so gradients reach early layers unchanged (GPT-2's change from GPT-1's post-LN)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, reference: bool = False, return_weights: bool = False):
        a = self.attn(self.ln_1(x), reference=reference, return_weights=return_weights)
        a, weights = a if return_weights else (a, None)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return (x, weights) if return_weights else x


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # learned, not sinusoidal (GPT-1)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying (Press & Wolf 2017): the input and output embeddings are one matrix, which saves
        # vocab x n_embd parameters -- a third of this small model -- and trains both with every token.
        self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)

    def _init_weights(self, module):
        # GPT-2: N(0, 0.02) everywhere; residual projections scaled by 1/sqrt(2 n_layer) because each
        # block adds two of them to the residual stream, whose variance would otherwise grow with depth.
        if isinstance(module, nn.Linear):
            std = 0.02 / math.sqrt(2 * self.config.n_layer) if getattr(module, "residual", False) else 0.02
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())  # the tied head is counted once
        return n - self.wpe.weight.numel() - self.wte.weight.numel() if non_embedding else n

    def hidden_states(self, idx, reference: bool = False, return_weights: bool = False):
        """[B, T] token ids -> [B, T, n_embd] after the final LayerNorm (and per-layer attention weights)."""
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"sequence of length {T} exceeds block_size {self.config.block_size}")
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        all_weights = []
        for block in self.blocks:
            if return_weights:
                x, w = block(x, reference=reference, return_weights=True)
                all_weights.append(w)
            else:
                x = block(x, reference=reference)
        x = self.ln_f(x)
        return (x, all_weights) if return_weights else x

    def forward(self, idx, targets=None, reference: bool = False):
        """Logits [B, T, vocab]; with targets [B, T] also the mean next-token cross-entropy (pads ignored)."""
        logits = self.lm_head(self.hidden_states(idx, reference=reference))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=self.config.pad_id)
        return logits, loss

    def optimizer_groups(self, weight_decay: float):
        """AdamW groups: decay only matrices (Linear weights, embeddings). Biases and LayerNorm gains are
        1-D scales/offsets; shrinking them toward 0 regularizes nothing useful and hurts."""
        params = [p for p in self.parameters() if p.requires_grad]  # parameters() yields the tied matrix once
        return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]

    @torch.no_grad()
    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int = None, stop_id: int = None):
        """Sample continuations of idx [B, T]; stops early once every row has produced stop_id."""
        done = torch.zeros(idx.size(0), dtype=torch.bool, device=idx.device)
        for _ in range(max_new_tokens):
            context = idx[:, -self.config.block_size:]
            logits = self(context)[0][:, -1, :] / max(temperature, 1e-6)
            if top_k is not None:
                kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = torch.multinomial(F.softmax(logits, dim=-1), num_samples=1)
            idx = torch.cat([idx, nxt], dim=1)
            if stop_id is not None:
                done |= nxt.squeeze(1) == stop_id
                if bool(done.all()):
                    break
        return idx
