"""Training smoke test: a tiny config learns (loss falls), exports a loadable model, and resumes deterministically."""

from __future__ import annotations

import json
from pathlib import Path
from dataclasses import replace

import pytest
import torch

import unmask
from unmask.tasks import get_task
from unmask.training.data import TaskMixture
from unmask.training.objective import masked_diffusion_loss, sample_masks
from unmask.training.train import PRESETS, TASK_WEIGHTS, train


def test_tiny_training_run_learns_exports_and_resumes(tmp_path):
    cfg = replace(PRESETS["tiny"], steps=40, save_every=20, lr=3e-3, warmup=5)
    out = tmp_path / "run"
    model_dir = train(["sudoku", "countdown"], out, cfg, until=20, log=lambda *_: None)
    with pytest.raises(FileExistsError, match="--resume"):
        train(["sudoku"], out, cfg, log=lambda *_: None)
    train(["sudoku", "countdown"], out, cfg, resume=True, log=lambda *_: None)
    history = json.loads((model_dir / "training.json").read_text())["history"]
    assert history[-1]["step"] == 40
    assert history[-1]["loss"] < 0.8 * history[0]["loss"], history
    model = unmask.load_model(model_dir)
    assert model.mask_id == model.tokenizer.mask_token_id and model.eos_id == model.tokenizer.eos_token_id
    result = unmask.generate(model, "Solve the sudoku:\n1003\n0300\n3210\n4132\nSolution:\n", gen_length=16,
                             block_length=8)
    assert result.tokens.shape == (1, 16)

    straight = tmp_path / "straight"
    train(["sudoku", "countdown"], straight, cfg, log=lambda *_: None)
    resumed = torch.load(out / "checkpoint.pt", weights_only=False)["model"]
    direct = torch.load(straight / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.allclose(resumed[k], direct[k], atol=1e-5) for k in direct), "resume must continue the same run"


def test_objective_masks_only_the_answer(tmp_path):
    from unmask.training.tokenizer import train_tokenizer
    from unmask.training.train import _tokenizer_corpus, build_model

    tokenizer = train_tokenizer(_tokenizer_corpus(["sudoku"], n=50), 300)
    batch = TaskMixture(tokenizer, {"sudoku": 1.0}, 4, seed=0).batch(0)
    assert batch.answer_mask.sum(-1).tolist() == [32] * 4  # gen_length of sudoku, EOS padding included
    assert (batch.input_ids[batch.answer_mask] != tokenizer.mask_token_id).all()
    model = build_model(PRESETS["tiny"], tokenizer)
    seen = {}
    original = model.forward

    def spy(**kwargs):
        seen["ids"] = kwargs["input_ids"]
        return original(**kwargs)

    model.forward = spy
    loss, _ = masked_diffusion_loss(model, batch, tokenizer.mask_token_id, torch.Generator().manual_seed(0))
    masked = seen["ids"] == tokenizer.mask_token_id
    assert masked.any() and not (masked & ~batch.answer_mask).any()
    assert loss.item() > 0


def test_init_from_starts_from_the_given_weights_with_explicit_task_weights(tmp_path):
    cfg = replace(PRESETS["tiny"], steps=10, save_every=10, warmup=2)
    base = train(["sudoku"], tmp_path / "base", cfg, log=lambda *_: None)
    with pytest.raises(ValueError, match="only one"):
        train(["sudoku"], tmp_path / "base", cfg, resume=True, init_from=base, log=lambda *_: None)
    with pytest.raises(FileNotFoundError, match="config.json"):
        train(["sudoku"], tmp_path / "x", cfg, init_from=tmp_path, log=lambda *_: None)
    with pytest.raises(ValueError, match="positive"):
        train({"sudoku": 0.0}, tmp_path / "y", cfg, log=lambda *_: None)

    tuned = train({"sudoku": 1.0, "countdown": 0.5}, tmp_path / "tuned", replace(cfg, lr=0.0, steps=3),
                  init_from=base, log=lambda *_: None)  # lr 0: the weights must stay the base model's
    before = torch.load(tmp_path / "base" / "checkpoint.pt", weights_only=False)["model"]
    after = torch.load(tmp_path / "tuned" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)
    meta = json.loads((tuned / "training.json").read_text())
    assert meta["tasks"] == {"sudoku": 1.0, "countdown": 0.5} and meta["config"]["init_from"] == str(base)
    assert meta["step"] == 3
    assert [p["steps"] for p in meta["pieces"]] == [10, 3] and meta["cumulative_steps"] == 13
    assert meta["pieces"][0]["init_from"] is None and meta["pieces"][1]["init_from"] == str(base)

    again = train(["sudoku"], tmp_path / "again", replace(cfg, steps=4, seed=7), init_from=tuned, until=2,
                  log=lambda *_: None)
    (tuned / "training.json").write_text("{}")  # a resume must not re-read the lineage from init_from
    train(["sudoku"], tmp_path / "again", replace(cfg, steps=4), resume=True, log=lambda *_: None)
    meta = json.loads((again / "training.json").read_text())
    assert [(p["steps"], p["seed"]) for p in meta["pieces"]] == [(10, 0), (3, 0), (4, 7)]
    assert meta["cumulative_steps"] == 17


def test_the_trainable_tasks_are_the_generated_ones(tmp_path):
    assert {"arith", "arith_fixed", "arith_digits", "arith_digits1", "digits", "digits1", "digits2", "sudoku", "countdown", "countdown3",
            "countdown3_digits"} <= set(TASK_WEIGHTS)
    assert all(get_task(name).generate(2, 0) for name in TASK_WEIGHTS)
    with pytest.raises(ValueError, match="cannot train on.*gsm8k.*arith_fixed"):
        train({"gsm8k": 1.0}, tmp_path / "run", PRESETS["tiny"], log=lambda *_: None)


def test_uniform_masks_are_unchanged_by_the_block_option():
    answer = torch.zeros(64, 24, dtype=torch.bool)
    answer[:, 5:21] = True
    masked, rate = sample_masks(answer, torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(1)  # LLaDA's draw, as every earlier piece was trained
    t = 1e-3 + (1 - 1e-3) * torch.rand(64, 1, generator=generator)
    assert torch.equal(masked, answer & (torch.rand(answer.shape, generator=generator) < t))
    assert torch.equal(rate, t.expand(answer.shape))


def test_block_masking_shows_earlier_blocks_and_masks_later_ones():
    rows, block = 4000, 4
    answer = torch.zeros(rows, 24, dtype=torch.bool)
    answer[:, 5:21] = True  # 16 answer positions after a 5-token prompt: blocks 5-8, 9-12, 13-16, 17-20
    masked, rate = sample_masks(answer, torch.Generator().manual_seed(0), block_length=block)
    assert not (masked & ~answer).any()
    rest = rate == 1.0
    staged = rest.any(-1)  # rows in a block-by-block state whose current block is not the last
    assert 0.33 < staged.float().mean() < 0.42  # 1/2 of the rows x 3 of the 4 blocks
    for row in staged.nonzero().flatten().tolist():
        first = int(rest[row].nonzero()[0])
        assert (first - 5) % block == 0 and first >= 9  # a block boundary after the first block
        assert rest[row, first:21].all() and masked[row, first:21].all() and not rest[row, :first].any()
        assert not masked[row, 5:first - block].any()  # the blocks before the current one are shown
    # the other rows: 4/5 uniform (half masked on average), 1/5 at the last block (1/4 of it at t, 1/2 masked)
    assert masked[~staged][:, 5:21].float().mean() == pytest.approx(0.8 * 0.5 + 0.2 * 0.125, abs=0.02)
    with pytest.raises(ValueError, match="block length"):
        train(["sudoku"], Path("unused"), replace(PRESETS["tiny"], block_masking=-1), log=lambda *_: None)


def test_cli_block_masking_reaches_the_run(tmp_path):
    from unmask.cli import main

    out = tmp_path / "run"
    main(["train", "--config", "tiny", "--steps", "2", "--task", "sudoku", "--fp32", "--block-masking", "8",
          "--out", str(out)])
    assert json.loads((out / "model" / "training.json").read_text())["config"]["block_masking"] == 8


def test_cli_train_device_is_checked_before_a_run_starts_and_recorded(tmp_path, capsys):
    from unmask.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--config", "tiny", "--steps", "2", "--task", "sudoku", "--device", "gpu0",
              "--out", str(tmp_path / "bad")])
    assert "cuda" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    out = tmp_path / "run"
    main(["train", "--config", "tiny", "--steps", "2", "--task", "sudoku", "--fp32", "--device", "cpu",
          "--out", str(out)])
    assert json.loads((out / "model" / "training.json").read_text())["device"] == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_cuda_sees_the_data_and_masks_a_cpu_run_sees(tmp_path):
    cfg = replace(PRESETS["tiny"], steps=6, save_every=3, warmup=2, bf16=False)
    for device in ("cpu", "cuda"):  # each run stops at step 3 and resumes: the loss log averages the same steps
        train(["sudoku", "countdown"], tmp_path / device, cfg, until=3, device=device, log=lambda *_: None)
        train(["sudoku", "countdown"], tmp_path / device, cfg, resume=True, device=device, log=lambda *_: None)
    on_cpu, on_cuda = tmp_path / "cpu" / "model", tmp_path / "cuda" / "model"
    cpu_meta, cuda_meta = (json.loads((d / "training.json").read_text()) for d in (on_cpu, on_cuda))
    assert cuda_meta["device"].startswith("cuda") and cuda_meta["step"] == 6
    cpu_loss = {entry["step"]: entry["loss"] for entry in cpu_meta["history"]}
    cuda_loss = {entry["step"]: entry["loss"] for entry in cuda_meta["history"]}
    assert cuda_loss[3] == pytest.approx(cpu_loss[3], rel=1e-3) and cuda_loss[6] == pytest.approx(cpu_loss[6], rel=1e-3)
    cpu_weights = torch.load(tmp_path / "cpu" / "checkpoint.pt", weights_only=False)["model"]
    cuda_weights = torch.load(tmp_path / "cuda" / "checkpoint.pt", weights_only=False, map_location="cpu")["model"]
    assert all(torch.allclose(cpu_weights[k], cuda_weights[k], atol=1e-3) for k in cpu_weights)


def test_cli_task_weights_parse():
    from unmask.cli import _task_weights

    assert _task_weights("arith,sudoku") == ["arith", "sudoku"]
    assert _task_weights("arith:0.5, sudoku:0.25") == {"arith": 0.5, "sudoku": 0.25}
    with pytest.raises(SystemExit, match="weight"):
        _task_weights("arith:0.5,sudoku")


def test_loss_weightings_inverse_t_and_flat_differ_as_defined(tmp_path):
    from unmask.training.tokenizer import train_tokenizer
    from unmask.training.train import _tokenizer_corpus, build_model

    tokenizer = train_tokenizer(_tokenizer_corpus(["sudoku"], n=50), 300)
    batch = TaskMixture(tokenizer, {"sudoku": 1.0}, 4, seed=0).batch(0)
    model = build_model(PRESETS["tiny"], tokenizer)
    logits = {}
    original = model.forward

    def spy(**kwargs):
        out = original(**kwargs)
        logits["ids"], logits["value"] = kwargs["input_ids"], out.logits
        return out

    model.forward = spy
    mask_id = tokenizer.mask_token_id
    flat, _ = masked_diffusion_loss(model, batch, mask_id, torch.Generator().manual_seed(3), weighting="flat")
    flat_ids = logits["ids"]
    masked = flat_ids == mask_id
    expected = torch.nn.functional.cross_entropy(logits["value"][masked], batch.input_ids[masked])
    assert torch.allclose(flat, expected, atol=1e-5)
    inverse_t, _ = masked_diffusion_loss(model, batch, mask_id, torch.Generator().manual_seed(3))
    assert torch.equal(logits["ids"], flat_ids)  # same seed, same masks: only the weighting differs
    assert not torch.allclose(inverse_t, flat)
    with pytest.raises(ValueError, match="flat"):
        masked_diffusion_loss(model, batch, mask_id, torch.Generator(), weighting="1/t")
    with pytest.raises(ValueError, match="loss weighting"):
        train(["sudoku"], tmp_path / "run", replace(PRESETS["tiny"], loss_weighting="bogus"), log=lambda *_: None)


def test_training_curve_is_drawn_and_resumed_clocks_add_up(tmp_path):
    from unmask.training.report import elapsed_hours, plot_training_curve

    history = [{"step": 10, "loss": 2.0, "acc": 0.3, "seconds": 1800.0},
               {"step": 20, "loss": 1.0, "acc": 0.5, "seconds": 3600.0},
               {"step": 30, "loss": 0.5, "acc": 0.7, "seconds": 1800.0}]  # an old resume restarted the clock
    assert elapsed_hours(history) == pytest.approx(1.5)
    meta = tmp_path / "training.json"
    meta.write_text(json.dumps({"history": history, "config": {"loss_weighting": "flat"}}))
    plot_training_curve(meta, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
