"""Train a small bidirectional Llama (a miniature LLaDA) on the synthetic tasks; `unmask train` runs this.

The run is deterministic in its seed, checkpoints every `save_every` steps into `out/checkpoint.pt` and exports a
Hugging Face directory (`out/model`) each time, and `--resume` picks up from the last checkpoint with the same data.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from unmask.devices import parse_device
from unmask.tasks import get_task
from unmask.training.data import TaskMixture
from unmask.training.objective import WEIGHTINGS, masked_diffusion_loss
from unmask.training.tokenizer import train_tokenizer


@dataclass(frozen=True)
class TrainConfig:
    """Model shape and optimisation settings; the presets are in `PRESETS`."""

    hidden_size: int = 256
    layers: int = 6
    heads: int = 8
    ffn_size: int = 768
    max_positions: int = 512
    vocab_size: int = 384
    batch_size: int = 128
    steps: int = 2000
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.01
    save_every: int = 100
    seed: int = 0
    bf16: bool = True
    init_from: str | None = None
    loss_weighting: str = "inverse_t"
    block_masking: int = 0


PRESETS = {
    "tiny": TrainConfig(hidden_size=64, layers=2, heads=2, ffn_size=128, batch_size=16, steps=30, save_every=10),
    "small": TrainConfig(),
}

TASK_WEIGHTS = {"arith": 0.4, "arith_fixed": 0.4, "arith_digits": 0.4, "arith_digits1": 0.4, "countdown": 0.35, "countdown3": 0.35,
                "countdown3_digits": 0.35, "sudoku": 0.25, "digits": 0.5, "digits1": 0.5, "digits2": 0.5}
TOKENIZER_SEED = 10_000


def build_model(cfg: TrainConfig, tokenizer) -> LlamaForCausalLM:
    """A bidirectional Llama (`is_causal=False`) sized by `cfg`."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.ffn_size,
        num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        num_key_value_heads=cfg.heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        mask_token_id=tokenizer.mask_token_id,
    )
    config.is_causal = False
    torch.manual_seed(cfg.seed)
    return LlamaForCausalLM(config)


def _tokenizer_corpus(tasks: list[str], n: int = 3000) -> list[str]:
    texts = []
    for name in tasks:
        task = get_task(name)
        texts += [task.prompt(r) + task.target(r) for r in task.generate(n, TOKENIZER_SEED)]
    return texts


def _lr(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def export(model, tokenizer, out: Path, meta: dict) -> None:
    """Write the Hugging Face directory `out` (weights, config, tokenizer) plus `training.json`."""
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "training.json").write_text(json.dumps(meta, indent=2))


def train(tasks: list[str] | dict[str, float], out: str | Path, cfg: TrainConfig, resume: bool = False,
          until: int | None = None, init_from: str | Path | None = None, device: str | torch.device | None = None,
          log=print) -> Path:
    """Train (or resume) and return the exported model directory `out/model`.

    Args:
        tasks: task names (mixed by `TASK_WEIGHTS`) or {name: weight}.
        until: stop (with a checkpoint) after that step, with the schedule still planned for `cfg.steps`: a later
            `resume=True` run continues exactly as an uninterrupted one would.
        init_from: an exported model directory (e.g. the bundled model) whose weights and tokenizer a new run
            starts from, with a fresh optimiser and schedule; the model shape then comes from its config.
        device: where the model trains ("cpu", the default, or "cuda", "cuda:N", ...). The data and the masks are
            drawn on the CPU from the same seeds either way; an accelerator changes the arithmetic, not the data.
    """
    out = Path(out)
    device = parse_device(device) or torch.device("cpu")
    weights = dict(tasks) if isinstance(tasks, dict) else {t: TASK_WEIGHTS.get(t, 0.0) for t in tasks}
    if cfg.loss_weighting not in WEIGHTINGS:
        raise ValueError(f"unknown loss weighting {cfg.loss_weighting!r}: choose from {', '.join(WEIGHTINGS)}")
    if cfg.block_masking < 0:
        raise ValueError(f"block masking must be a block length >= 1, or 0 for off; got {cfg.block_masking}")
    unknown = [t for t in weights if t not in TASK_WEIGHTS]
    if unknown:
        raise ValueError(f"cannot train on {unknown}: choose from {', '.join(TASK_WEIGHTS)}")
    if not weights or min(weights.values()) <= 0:
        raise ValueError(f"task weights must be positive, got {weights}")
    checkpoint_path, model_dir = out / "checkpoint.pt", out / "model"
    if resume and not checkpoint_path.exists():
        raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint_path}; start without --resume")
    if checkpoint_path.exists() and not resume:
        raise FileExistsError(f"{checkpoint_path} exists: pass --resume to continue it, or choose another --out")
    if init_from is not None and resume:
        raise ValueError("--init-from starts a new run; --resume continues one: pass only one of them")
    if init_from is not None and not (Path(init_from) / "config.json").exists():
        raise FileNotFoundError(f"--init-from: no exported model (config.json) in {init_from}")
    out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(cfg.seed)
    earlier = earlier_pieces(init_from)
    if resume:
        state = torch.load(checkpoint_path, weights_only=False, map_location="cpu")
        cfg = replace(TrainConfig(**state["config"]), steps=cfg.steps)
        earlier = state.get("earlier_pieces", [])
        tokenizer = AutoTokenizer.from_pretrained(out / "tokenizer")
        model = build_model(cfg, tokenizer)
    elif init_from is not None:
        tokenizer = AutoTokenizer.from_pretrained(init_from)
        tokenizer.save_pretrained(out / "tokenizer")
        model = LlamaForCausalLM.from_pretrained(init_from)
        cfg = replace(cfg, hidden_size=model.config.hidden_size, layers=model.config.num_hidden_layers,
                      heads=model.config.num_attention_heads, ffn_size=model.config.intermediate_size,
                      max_positions=model.config.max_position_embeddings, vocab_size=model.config.vocab_size,
                      init_from=str(init_from))
    else:
        tokenizer = train_tokenizer(_tokenizer_corpus(list(weights)), cfg.vocab_size)
        tokenizer.save_pretrained(out / "tokenizer")
        model = build_model(cfg, tokenizer)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    generator = torch.Generator().manual_seed(cfg.seed)
    history, start = [], 0
    if resume:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        history, start = state["history"], state["step"]
    mixture = TaskMixture(tokenizer, weights, cfg.batch_size, cfg.seed)
    mask_id = tokenizer.mask_token_id
    params = sum(p.numel() for p in model.parameters())
    log(f"model: {params / 1e6:.2f}M parameters on {device}; steps {start}..{cfg.steps}; out {out}")

    model.train()
    columns = [TextColumn("[bold]train"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("loss {task.fields[loss]:.3f} acc {task.fields[acc]:.3f} {task.fields[rate]:.0f} ex/s"),
               TimeElapsedColumn(), TimeRemainingColumn()]
    began, window = time.time() - (history[-1]["seconds"] if history else 0.0), []  # seconds add up over resumes
    with Progress(*columns) as progress:
        plain_log = not progress.console.is_terminal  # a log file gets one line per 50 steps instead of a bar
        bar = progress.add_task("train", total=cfg.steps, completed=start, loss=0.0, acc=0.0, rate=0.0)
        stop = cfg.steps if until is None else min(until, cfg.steps)
        for step in range(start, stop):
            tick = time.time()
            batch = mixture.batch(step).to(device)
            for group in optimizer.param_groups:
                group["lr"] = _lr(cfg, step)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                loss, acc = masked_diffusion_loss(model, batch, mask_id, generator, weighting=cfg.loss_weighting,
                                                  block_length=cfg.block_masking)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            window.append((loss.item(), acc, cfg.batch_size / (time.time() - tick)))
            if (step + 1) % 10 == 0 or step + 1 == stop:
                mean = [sum(v) / len(window) for v in zip(*window)]
                history.append({"step": step + 1, "loss": mean[0], "acc": mean[1], "seconds": time.time() - began})
                progress.update(bar, completed=step + 1, loss=mean[0], acc=mean[1], rate=mean[2])
                window = []
                if plain_log and ((step + 1) % 50 == 0 or step + 1 == cfg.steps):
                    log(f"step {step + 1}/{cfg.steps} loss {mean[0]:.4f} acc {mean[1]:.4f} "
                        f"{mean[2]:.0f} ex/s {time.time() - began:.0f}s")
            if (step + 1) % cfg.save_every == 0 or step + 1 == stop:
                _save(out, model, tokenizer, optimizer, generator, cfg, step + 1, history, params, weights, earlier,
                      device)
    return model_dir


def earlier_pieces(init_from: str | Path | None) -> list[dict]:
    """The training pieces behind the exported model `init_from`: the `pieces` of its `training.json`, or the one
    run it records; [] for a run from scratch. Each piece: {"steps", "seed", "tasks", "init_from"}."""
    if init_from is None or not (Path(init_from) / "training.json").exists():
        return []
    meta = json.loads((Path(init_from) / "training.json").read_text())
    if "pieces" in meta:
        return meta["pieces"]
    config = meta["config"]
    return [{"steps": meta["step"], "seed": config["seed"], "tasks": meta["tasks"],
             "init_from": config.get("init_from")}]


def _save(out, model, tokenizer, optimizer, generator, cfg, step, history, params, tasks, earlier, device) -> None:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
             "config": asdict(cfg), "step": step, "history": history, "earlier_pieces": earlier}
    tmp = out / "checkpoint.pt.tmp"
    torch.save(state, tmp)
    tmp.replace(out / "checkpoint.pt")
    meta = {"config": asdict(cfg), "tasks": tasks, "step": step, "parameters": params, "history": history,
            "torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(device)}
    meta["pieces"] = earlier + [{"steps": step, "seed": cfg.seed, "tasks": tasks, "init_from": cfg.init_from}]
    meta["cumulative_steps"] = sum(piece["steps"] for piece in meta["pieces"])
    export(model, tokenizer, out / "model", meta)
