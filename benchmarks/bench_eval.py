"""Ranking a shop gallery: the expanded (a - b)^2 . w form vs the naive broadcast.

Baseline: for each chunk of queries, the [chunk, G, 256] tensor of squared differences times the
Linear(256, 2) weights (what a direct implementation of m~ over every pair does).
Contender: ``movingfashion.models.margin_matrix`` (two matrix-vector products and one
matrix product; the one implementation, used by tracking and SEAM evaluation). Both run on the same random descriptors (default 1,500 queries x 15,000 shop
images, 256-d) in the same process; the naive form is timed on a subset of the queries
(``--naive-queries``, default 300) because it is slow, and the per-query times are compared.
Rankings (top-20 per query) are checked identical on that subset.

    python benchmarks/bench_eval.py [--queries 1500 --gallery 15000 --naive-queries 300 --device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch

from movingfashion.models.matchrcnn import margin_matrix
from movingfashion.models.ranking import topk_indices


def naive_margin_matrix(
    queries: torch.Tensor, gallery: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, chunk: int = 64
) -> torch.Tensor:
    """The baseline: broadcast (Q x G x dim) squared differences, ``chunk`` queries at a time."""
    out = torch.empty(queries.shape[0], gallery.shape[0], dtype=queries.dtype)
    for s in range(0, queries.shape[0], chunk):
        diff2 = (queries[s : s + chunk, None, :] - gallery[None, :, :]) ** 2
        logits = diff2 @ weight.T.to(queries.dtype) + bias.to(queries.dtype)
        out[s : s + chunk] = logits[..., 1] - logits[..., 0]
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=1500)
    ap.add_argument("--gallery", type=int, default=15000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--naive-queries", type=int, default=300, help="queries timed with the naive form")
    ap.add_argument("--chunk", type=int, default=16, help="queries per naive broadcast chunk")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    q = torch.randn(args.queries, args.dim, generator=g).to(device)
    gal = torch.randn(args.gallery, args.dim, generator=g).to(device)
    lin = torch.nn.Linear(args.dim, 2)
    w, b = lin.weight.detach().to(device), lin.bias.detach().to(device)
    nq = min(args.naive_queries, args.queries)

    margin_matrix(q[:8], gal, w, b)  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    fast = margin_matrix(q, gal, w, b)
    _sync(device)
    t_matrix = time.perf_counter() - t0
    fast_top = topk_indices(fast, 20)
    _sync(device)
    t_fast = time.perf_counter() - t0

    t0 = time.perf_counter()
    slow = (
        naive_margin_matrix(q[:nq].cpu(), gal.cpu(), w.cpu(), b.cpu(), chunk=args.chunk)
        if device.type == "cpu"
        else torch.cat(
            [
                naive_margin_matrix(q[s : s + args.chunk], gal, w, b, chunk=args.chunk).to(device)
                for s in range(0, nq, args.chunk)
            ]
        )
    )
    slow_top = topk_indices(slow.to(device), 20)
    _sync(device)
    t_slow = time.perf_counter() - t0

    same = (fast_top[:nq].cpu() == slow_top.cpu()).all(1).float().mean().item()
    same_top1 = (fast_top[:nq, 0].cpu() == slow_top[:, 0].cpu()).float().mean().item()
    max_diff = (fast[:nq].cpu() - slow.cpu()).abs().max().item()
    per_fast, per_slow = t_fast / args.queries, t_slow / nq
    print(f"device {device}, {args.queries} queries x {args.gallery} gallery x {args.dim}-d (float32)")
    print(
        f"vectorised: {t_fast:.3f} s for all {args.queries} queries ({1e3 * per_fast:.3f} ms/query, "
        f"top-20 included; the score matrix alone {t_matrix:.3f} s)"
    )
    print(
        f"naive broadcast: {t_slow:.3f} s for {nq} queries ({1e3 * per_slow:.3f} ms/query, chunks of "
        f"{args.chunk}; timed on a subset of {nq} queries)"
    )
    print(
        f"identical top-20 rankings: {100 * same:.2f}% of the {nq} compared queries "
        f"(top-1 {100 * same_top1:.2f}%), max |margin difference| {max_diff:.2e}"
    )
    print(f"ratio (naive / vectorised, per query): {per_slow / per_fast:.1f}x")
    if same < 1.0:
        raise SystemExit("rankings differ")


if __name__ == "__main__":
    main()
