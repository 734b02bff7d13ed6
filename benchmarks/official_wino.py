"""`wino` against the official WINO decoder on the bundled model, token for token (greedy, no early stop).

The official code is not part of unmask: check out the repository and pass its path.

    git clone https://github.com/Feng-Hong/WINO-DLLM /src/WINO-DLLM
    OMP_NUM_THREADS=1 python benchmarks/official_wino.py --wino /src/WINO-DLLM

Runs `decoding_wino` from `LLaDA/decoding.py` unmodified. It calls the model as LLaDA's remote code is called
(`model(x, attention_mask=<(1, 1, L, L) bool>, position_ids=<(L,)>)`), so the bundled model is called through a
wrapper that adds the batch axis to the position ids. Prints, per setting, how many decodes give the same tokens,
the same number of model calls, and how many positions were re-masked on our side (so that a match is not one
where revision never happened). `--save FILE` also writes the official decodes (prompt ids, tokens, calls) with the
bundled weights' SHA-256, the reference `tests/test_wino.py` checks against; rebuild it when the weights change.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from pathlib import Path

import torch
from common import load_module

import unmask
from unmask.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wino", type=Path, required=True, help="checkout of Feng-Hong/WINO-DLLM")
    parser.add_argument("--tasks", default="sudoku,arith")
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--save", type=Path, help="write the official decodes here (a test fixture)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    decoding_wino = load_module(args.wino / "LLaDA/decoding.py", "wino_decoding").decoding_wino

    model = unmask.load_model()
    hf, mask, tokenizer = model.model, model.mask_id, model.tokenizer

    class LLaDACalling(torch.nn.Module):
        """The bundled model called the way LLaDA's remote code is: position ids without a batch axis."""

        def __init__(self):
            super().__init__()
            self.device = hf.device

        def forward(self, x, attention_mask=None, position_ids=None):
            return hf(input_ids=x, attention_mask=attention_mask, position_ids=position_ids[None])

    rows, saved = [], []
    with torch.inference_mode():
        for name in args.tasks.split(","):
            task = get_task(name)
            prompts = [tokenizer(task.prompt(item), add_special_tokens=False)["input_ids"]
                       for item in task.generate(args.samples, seed=11)]
            for (gen, block), (tau, back) in itertools.product([(32, 32), (64, 32), (64, 16), (32, 8)],
                                                               [(0.6, 0.9), (0.7, 0.9), (0.5, 0.8)]):
                for p in prompts:
                    x, calls = decoding_wino(LLaDACalling(), torch.tensor([p]), gen_length=gen, block_length=block,
                                             temperature=0.0, mask_id=mask, threshold=tau, threshold_back=back)
                    ours = unmask.generate(model, [p], planner="wino", tau=tau, tau_back=back, gen_length=gen,
                                           block_length=block, eos_early_stop=False)
                    saved.append({"prompt": p, "gen_length": gen, "block_length": block, "tau": tau,
                                  "tau_back": back, "tokens": x[0, len(p):].tolist(), "calls": int(calls)})
                    rows.append((f"{name} G={gen} B={block} tau={tau} tau_back={back}",
                                 torch.equal(x[0, len(p):], ours.tokens[0]), int(calls) == int(ours.nfe[0]),
                                 int(ours.remasks.sum())))
    total = [0, 0, 0]
    for key, group in itertools.groupby(rows, key=lambda r: r[0]):
        group = list(group)
        same, calls, remasks = sum(g[1] for g in group), sum(g[2] for g in group), sum(g[3] for g in group)
        total = [total[0] + same, total[1] + calls, total[2] + len(group)]
        print(f"{key}: same tokens {same}/{len(group)}, same calls {calls}/{len(group)}, re-masks {remasks}")
    print(f"all: same tokens {total[0]}/{total[2]}, same calls {total[1]}/{total[2]}")
    if args.save:
        weights = unmask.bundled_model_path() / "model.safetensors"
        args.save.write_text(json.dumps({"weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                                         "source": "Feng-Hong/WINO-DLLM LLaDA/decoding.py decoding_wino",
                                         "decodes": saved}))


if __name__ == "__main__":
    main()
