"""`klass` and `credit` against their official code on the bundled model, token for token (greedy, no early stop).

The official code is not part of unmask: check out the two repositories and pass their paths.

    git clone https://github.com/shkim0116/KLASS /src/KLASS
    git clone https://github.com/inclusionAI/dInfer /src/dInfer
    OMP_NUM_THREADS=1 python benchmarks/official_memory_planners.py --klass /src/KLASS --dinfer /src/dInfer

KLASS: `stable_confident_decode(alg="klass")` from `src/model/llada_klass.py`, run unmodified. It hard-codes LLaDA's
mask id 126336, so the bundled model is called through a wrapper that maps that id to its own mask token.
Credit: dInfer's `CreditThresholdParallelDecoder.decode` from `python/dinfer/decoding/parallel_strategy.py`, run
unmodified (torch.compile disabled), driven like dInfer's block-wise loop without a cache and with one call per
iteration: while the block has masks, one model call on the whole sequence, then `decode` on the block's logits.
Prints, per setting, how many decodes give the same tokens and the same number of model calls.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import types
from pathlib import Path

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")  # dInfer decorates with torch.compile; plain eager here

import torch  # noqa: E402
from common import load_module  # noqa: E402

import unmask  # noqa: E402
from unmask.tasks import get_task  # noqa: E402

LLADA_MASK = 126336  # hard-coded inside the official KLASS function


def dinfer_decoder_class(root: Path):
    """CreditThresholdParallelDecoder from the two files it needs, without dInfer's package imports."""
    package = types.ModuleType("dinfer_decoding")
    package.__path__ = [str(root / "python/dinfer/decoding")]
    sys.modules["dinfer_decoding"] = package
    load_module(root / "python/dinfer/decoding/utils.py", "dinfer_decoding.utils")
    return load_module(root / "python/dinfer/decoding/parallel_strategy.py",
                "dinfer_decoding.parallel_strategy").CreditThresholdParallelDecoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--klass", type=Path, required=True, help="checkout of shkim0116/KLASS")
    parser.add_argument("--dinfer", type=Path, required=True, help="checkout of inclusionAI/dInfer")
    parser.add_argument("--task", default="sudoku")
    parser.add_argument("--samples", type=int, default=24)
    args = parser.parse_args()
    torch.set_num_threads(1)
    decode_klass = load_module(args.klass / "src/model/llada_klass.py", "llada_klass").stable_confident_decode
    Credit = dinfer_decoder_class(args.dinfer)

    model = unmask.load_model()
    hf, mask, tokenizer = model.model, model.mask_id, model.tokenizer

    class LLaDAMaskId(torch.nn.Module):
        """The bundled model seen through LLaDA's mask id."""

        def __init__(self):
            super().__init__()
            self.lm_head, self.device = hf.lm_head, hf.device

        def forward(self, x):
            return hf(torch.where(x == LLADA_MASK, mask, x))

    def official_credit(prompt, gen, block, tau):
        decoder = Credit(temperature=0, threshold=tau, mask_id=mask, eos_id=-1)
        x, P, calls = torch.tensor([prompt + [mask] * gen]), len(prompt), 0
        for b in range(gen // block):
            start, end = P + b * block, P + (b + 1) * block
            while (x[:, start:end] == mask).any():
                decoder.decode(hf(x).logits[:, start:end], start, end, x)
                calls += 1
        return x[0, P:], calls

    task = get_task(args.task)
    prompts = [tokenizer(task.prompt(item), add_special_tokens=False)["input_ids"]
               for item in task.generate(args.samples, seed=11)]
    rows = []
    with torch.inference_mode():
        for gen, block in [(32, 32), (64, 16), (64, 32)]:
            for tau, kl in [(0.9, 0.01), (0.6, 0.015)]:
                for p in prompts:
                    x, calls = decode_klass(LLaDAMaskId(), tokenizer, torch.tensor([p]), gen, gen, block, 0.0,
                                            conf_threshold=tau, kl_threshold=kl, kl_history_length=2, alg="klass")
                    ours = unmask.generate(model, [p], planner="klass", tau=tau, kl_threshold=kl, gen_length=gen,
                                           block_length=block, eos_early_stop=False)
                    same = torch.equal(x[0, len(p):], ours.tokens[0])
                    rows.append((f"klass G={gen} B={block} tau={tau} kl={kl}", same, calls == int(ours.nfe[0])))
            for tau in (0.9, 0.7, 0.5):
                for p in prompts:
                    ref, calls = official_credit(p, gen, block, tau)
                    ours = unmask.generate(model, [p], planner="credit", tau=tau, gen_length=gen, block_length=block,
                                           eos_early_stop=False)
                    rows.append((f"credit G={gen} B={block} tau={tau}", torch.equal(ref, ours.tokens[0]),
                                 calls == int(ours.nfe[0])))
    for key, group in itertools.groupby(rows, key=lambda r: r[0]):
        group = list(group)
        print(f"{key}: same tokens {sum(g[1] for g in group)}/{len(group)}, "
              f"same calls {sum(g[2] for g in group)}/{len(group)}")


if __name__ == "__main__":
    main()
