"""Peak memory of `unmask.load_model` on a LLaDA checkpoint in the official layout: weights are read once, in the
requested dtype, so the process needs about the checkpoint's size, not twice it.

Writes a random-weight LLaDA-layout checkpoint (official config fields and weight names, bfloat16 safetensors) of the
given shape to a temporary directory, then loads it natively in a fresh process and reports that process's peak
resident memory against the size of the weights.

    python benchmarks/load_memory.py --d-model 1024 --layers 24 --mlp 4096
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "official"))
from build_fixtures import LLADA_CONFIG  # noqa: E402  (the official field list, shared with the test fixtures)

from common import environment, parser, save  # noqa: E402

MEASURE = """
import json, sys, time
import torch, unmask

def status_mb(field):  # from /proc/self/status (ru_maxrss would carry the parent's peak over exec)
    line = next(l for l in open("/proc/self/status") if l.startswith(field + ":"))
    return int(line.split()[1]) / 1024

def high_water_mb():  # VmHWM: this process's peak resident memory, anonymous and file-backed (mmapped weights)
    return status_mb("VmHWM")

base = high_water_mb()
began = time.perf_counter()
model = unmask.load_model(sys.argv[1], dtype=sys.argv[2])
seconds = time.perf_counter() - began
params = sum(p.numel() * p.element_size() for p in model.model.parameters()) / 2**20
peak = high_water_mb()
print(json.dumps({"baseline_rss_mb": base, "peak_rss_mb": peak, "parameters_mb": params, "load_seconds": seconds,
                  "after_load_anonymous_mb": status_mb("RssAnon"), "after_load_file_backed_mb": status_mb("RssFile")}))
"""


def write_checkpoint(directory: Path, d_model: int, layers: int, mlp: int, vocab: int) -> float:
    """A LLaDA-layout checkpoint, one safetensors shard per layer group (as released checkpoints are sharded)."""
    config = {**LLADA_CONFIG, "d_model": d_model, "n_layers": layers, "mlp_hidden_size": mlp, "n_heads": d_model // 128,
              "n_kv_heads": d_model // 128, "embedding_size": vocab, "vocab_size": vocab, "max_sequence_length": 4096}
    (directory / "config.json").write_text(json.dumps(config))
    shards, index = [], {}

    def shard(tensors: dict) -> None:
        name = f"model-{len(shards) + 1:05d}.safetensors"
        save_file({k: v.to(torch.bfloat16) for k, v in tensors.items()}, str(directory / name), metadata={"format": "pt"})
        shards.append(name)
        index.update({k: name for k in tensors})

    shard({"model.transformer.wte.weight": torch.randn(vocab, d_model) * 0.02,
           "model.transformer.ff_out.weight": torch.randn(vocab, d_model) * 0.02,
           "model.transformer.ln_f.weight": torch.ones(d_model)})
    for i in range(layers):
        block = f"model.transformer.blocks.{i}."
        shard({block + "q_proj.weight": torch.randn(d_model, d_model) * 0.02,
               block + "k_proj.weight": torch.randn(d_model, d_model) * 0.02,
               block + "v_proj.weight": torch.randn(d_model, d_model) * 0.02,
               block + "attn_out.weight": torch.randn(d_model, d_model) * 0.02,
               block + "ff_proj.weight": torch.randn(mlp, d_model) * 0.02,
               block + "up_proj.weight": torch.randn(mlp, d_model) * 0.02,
               block + "ff_out.weight": torch.randn(d_model, mlp) * 0.02,
               block + "attn_norm.weight": torch.ones(d_model), block + "ff_norm.weight": torch.ones(d_model)})
    (directory / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": index}))
    fixtures = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "official" / "llada-tiny"
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (directory / name).write_text((fixtures / name).read_text())
    return sum(f.stat().st_size for f in directory.glob("*.safetensors")) / 2**20


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--d-model", type=int, default=1024)
    p.add_argument("--layers", type=int, default=24)
    p.add_argument("--mlp", type=int, default=4096)
    p.add_argument("--vocab", type=int, default=126464)
    p.add_argument("--dtype", default="bfloat16")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        size_mb = write_checkpoint(Path(tmp), args.d_model, args.layers, args.mlp, args.vocab)
        out = subprocess.run([sys.executable, "-c", MEASURE, tmp, args.dtype], capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
    result = {"shape": {"d_model": args.d_model, "layers": args.layers, "mlp": args.mlp, "vocab": args.vocab},
              "dtype": args.dtype, "checkpoint_mb": size_mb, **json.loads(out), "environment": environment()}
    result["peak_over_baseline_mb"] = result["peak_rss_mb"] - result["baseline_rss_mb"]
    result["peak_over_baseline_per_checkpoint_mb"] = result["peak_over_baseline_mb"] / size_mb
    print(json.dumps(result, indent=1))
    save("load_memory", result, args.out)


if __name__ == "__main__":
    main()
