"""The differentiable stochastic LUT, trained against what the engine computes.

A LUT holds 2^k real table values W_j in [0, 1].  Its stochastic form outputs
sum_j W_j prod_m (x_m if bit m of j else 1 - x_m).  We run the forward pass on
binary inputs, where that sum is exactly W[address], and take the derivative of
the stochastic form at that binary point:
    dy/dW_j = [j == address],   dy/dx_m = W[address | 2^m] - W[address & ~2^m].
Outputs are binarised at 0.5 with a straight-through gradient, so the exported
tables (W > 0.5) compute exactly what was trained.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class _LutFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, table: torch.Tensor, inputs: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        size = table.shape[1]
        n, k = inputs.shape
        address = torch.zeros((x.shape[0], n), dtype=torch.long, device=x.device)
        for m in range(k):
            address |= (x[:, inputs[:, m]] > 0.5).long() << m
        flat = address + (rows * size)[None, :]
        ctx.save_for_backward(flat, table, inputs)
        ctx.n_prev = x.shape[1]
        return table.reshape(-1)[flat]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        flat, table, inputs = ctx.saved_tensors
        t = table.reshape(-1)
        grad_table = torch.zeros_like(t).index_add_(0, flat.reshape(-1), grad.reshape(-1)).view_as(table)
        grad_x = torch.zeros((grad.shape[0], ctx.n_prev), dtype=grad.dtype, device=grad.device)
        for m in range(inputs.shape[1]):
            bit = 1 << m
            grad_x.index_add_(1, inputs[:, m], grad * (t[flat | bit] - t[flat & ~bit]))
        return grad_x, grad_table, None, None


class _SelectFunction(torch.autograd.Function):
    """Learnable mapping (DWN): slot s reads input argmax_i scores[s, i]; the scores' gradient is
    g^T (2x - 1), so an input that agrees in sign with a slot's gradient gains on it."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x[:, scores.argmax(1)]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return None, grad.t() @ (2 * x - 1)


class LutLayer(nn.Module):
    """``width`` LUTs reading the given input indices [width, k].

    ``rows`` (optional) makes LUTs share tables: LUT i uses table ``rows[i]``, as the
    positions of one channel of a convolution do.
    """

    def __init__(self, inputs: np.ndarray, generator: torch.Generator, rows: np.ndarray | None = None,
                 learn_from: int = 0) -> None:
        """``learn_from`` > 0: the layer learns its connections among that many inputs from random
        selection scores (``inputs`` then gives only the shape; a head start for them trained worse)."""
        super().__init__()
        n, k = inputs.shape
        rows = np.arange(n) if rows is None else rows
        self.register_buffer("inputs", torch.from_numpy(inputs.astype(np.int64)))
        self.register_buffer("rows", torch.from_numpy(rows.astype(np.int64)))
        self.table = nn.Parameter(0.5 + 0.1 * torch.randn(int(rows.max()) + 1, 1 << k, generator=generator))
        self.scores: nn.Parameter | None = None
        if learn_from:
            self.scores = nn.Parameter(0.01 * torch.randn(n * k, learn_from, generator=generator))
            self.register_buffer("slots", torch.arange(n * k).reshape(n, k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scores is None:
            return _LutFunction.apply(x, self.table, self.inputs, self.rows)
        return _LutFunction.apply(_SelectFunction.apply(x, self.scores), self.table, self.slots, self.rows)

    def wiring(self) -> np.ndarray:
        """The connections as trained: [width, k] input indices."""
        if self.scores is None:
            return self.inputs.cpu().numpy().astype(np.int32)
        return self.scores.detach().argmax(1).reshape(self.inputs.shape).cpu().numpy().astype(np.int32)

    def clamp_(self) -> None:
        with torch.no_grad():
            self.table.clamp_(0.0, 1.0)

    def export_tables(self) -> np.ndarray:
        """Binarised tables, LUT6.INIT convention: bit j set where W_j > 0.5."""
        bits = (self.table.detach().cpu().numpy()[self.rows.cpu().numpy()] > 0.5).astype(np.uint64)
        return (bits << np.arange(bits.shape[1], dtype=np.uint64)[None, :]).sum(axis=1, dtype=np.uint64)


class LutNet(nn.Module):
    """Layers of LUTs with hard 0/1 activations between them (straight-through gradient)."""

    def __init__(self, wirings: list[tuple[np.ndarray, np.ndarray | None]], seed: int, n_inputs: int = 0) -> None:
        """``wirings``: per layer, its inputs [width, k] and table rows (None: a table per LUT);
        ``n_inputs`` > 0: the first layer learns its connections among that many inputs."""
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.layers = nn.ModuleList(LutLayer(inputs, generator, rows, n_inputs if i == 0 else 0)
                                    for i, (inputs, rows) in enumerate(wirings))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """0/1 samples [S, n_inputs] -> last layer's real outputs W[address] in [0, 1]."""
        for i, layer in enumerate(self.layers):
            y = layer(x)
            if i + 1 < len(self.layers):
                x = y + ((y > 0.5).to(y.dtype) - y).detach()
        return y

    def clamp_(self) -> None:
        for layer in self.layers:
            layer.clamp_()
