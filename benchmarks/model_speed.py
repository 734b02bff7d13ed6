"""Forward speed of a model: one call at (batch, length) for batch 1 and 32, lengths 64 and 256.

    python benchmarks/model_speed.py
"""

from __future__ import annotations

from common import forward_seconds, parser, save, setup


def main():
    p = parser(__doc__)
    args = p.parse_args()
    model = setup(args)
    rows = []
    for batch in (1, 32):
        for length in (64, 256):
            seconds = forward_seconds(model, batch, length, repeats=max(args.repeats, 10))
            rows.append({"batch": batch, "length": length, "ms": 1000 * seconds})
            print(f"batch {batch:>2} length {length:>3}: {1000 * seconds:7.2f} ms", flush=True)
    parameters = sum(p.numel() for p in model.model.parameters())
    save("model_speed", {"parameters": parameters, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
