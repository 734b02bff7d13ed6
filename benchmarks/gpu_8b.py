"""Decoding an LLaDA-8B-shaped model on a GPU: the model call, DUS against token by token, and the KV caches.

No 8B weights can be downloaded here, and timing does not depend on their values: the script builds a bidirectional
Llama with LLaDA-8B-Instruct's shape (hidden 4096, 32 layers, 32 heads, MLP 12288, vocabulary 126464; 8.0B
parameters) in bfloat16 on the GPU with random weights, wraps it as `unmask.load_model` wraps LLaDA, and decodes a
prompt of random token ids with EOS early stop off, so every decode spends exactly its planner's calls. Timed, each
the median of `--repeats` runs after one warm-up, the planners alternating run by run:

- one forward at batch 1 over 512 and 1,280 tokens;
- `generate` at G = 256, B = 32 after a `--prompt`-token prompt: token by token (confidence, 256 calls) against DUS
  (40 calls), with cache none, prefix and dual.

    python benchmarks/gpu_8b.py --device cuda --repeats 2  # 137 s on one H200, 30.8 GiB of GPU memory at peak
    python benchmarks/gpu_8b.py --device cpu --tiny        # the same code path on a 2-layer toy, for a dry run
"""

from __future__ import annotations

import argparse
import time

import torch
from common import median_time, save
from transformers import LlamaConfig, LlamaForCausalLM

import unmask
from unmask.models import llada
from unmask.models.loading import wrap_model

LLADA_8B = {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 12288,
            "vocab_size": 126464}
TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
        "vocab_size": 126464}


def build(shape: dict, device: torch.device):
    """A random-weight bidirectional Llama of `shape`, bfloat16, on `device`, wrapped as LLaDA is."""
    config = LlamaConfig(**shape, num_key_value_heads=shape["num_attention_heads"], max_position_embeddings=4096,
                         rope_theta=500000.0, tie_word_embeddings=False, mask_token_id=llada.MASK_ID)
    config.is_causal = False
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(torch.bfloat16).eval()
    return wrap_model(model, None, "llada")


def synchronized(device: torch.device):
    """A clock that waits for the device's queued work before reading the time."""
    def now() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()
    return now


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--tiny", action="store_true", help="a 2-layer toy of the same vocabulary (dry run)")
    p.add_argument("--prompt", type=int, default=1024, help="prompt tokens")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    device = torch.device(args.device)
    now = synchronized(device)
    began = now()
    model = build(TINY if args.tiny else LLADA_8B, device)
    parameters = sum(w.numel() for w in model.model.parameters())
    print(f"built {parameters / 1e9:.2f}B parameters on {device} in {now() - began:.1f} s", flush=True)

    forward = []
    for length in (512, 1280):
        ids = torch.randint(3, 126000, (1, length), device=device)

        def call():
            with torch.inference_mode():
                model(ids)
            return now()  # waits for the forward's queued kernels

        seconds = median_time(call, args.repeats)[0]
        forward.append({"batch": 1, "length": length, "ms": 1000 * seconds})
        print(f"forward batch 1 length {length}: {1000 * seconds:.1f} ms", flush=True)

    prompt = torch.randint(3, 126000, (1, args.prompt)).tolist()
    decodes = []
    for cache in ("none", "prefix", "dual"):
        seconds, calls = {"confidence": [], "dilated": []}, {}
        for repeat in range(args.repeats + 1):  # the first round warms up
            for planner in ("confidence", "dilated") if repeat % 2 else ("dilated", "confidence"):
                start = now()
                result = unmask.generate(model, prompt, planner=planner, gen_length=256, block_length=32,
                                         eos_early_stop=False, cache=cache)
                if repeat:
                    seconds[planner].append(now() - start)
                calls[planner] = result.calls
        row = {"cache": cache, "calls": calls, "seconds": {k: median(v) for k, v in seconds.items()}}
        row["wall_ratio"] = row["seconds"]["confidence"] / row["seconds"]["dilated"]
        row["nfe_ratio"] = calls["confidence"] / calls["dilated"]
        decodes.append(row)
        print(f"cache {cache:>6}: token by token {row['seconds']['confidence']:.2f} s ({calls['confidence']} calls), "
              f"DUS {row['seconds']['dilated']:.2f} s ({calls['dilated']} calls): {row['wall_ratio']:.2f}x wall, "
              f"{row['nfe_ratio']:.2f}x calls", flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    memory = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    save("gpu_8b" if not args.tiny else "gpu_8b_tiny",
         {"device": name, "parameters": parameters, "dtype": "bfloat16", "prompt_tokens": args.prompt,
          "gen_length": 256, "block_length": 32, "repeats": args.repeats, "peak_gpu_memory_gib": memory,
          "forward": forward, "decodes": decodes}, args.out)


if __name__ == "__main__":
    main()
