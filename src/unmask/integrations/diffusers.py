"""diffusers integration: any unmask planner as the scheduler of diffusers' block-refinement pipelines.

    from diffusers import LLaDA2Pipeline
    from unmask.integrations.diffusers import PlannerScheduler

    scheduler = PlannerScheduler("dilated", block_length=32)            # DUS: 5 calls per block of 32
    pipe = LLaDA2Pipeline(model=model, scheduler=scheduler, tokenizer=tokenizer)
    texts = pipe(prompt="...", gen_length=256, block_length=32).texts

`PlannerScheduler` is a `BlockRefinementScheduler` whose `step` hands the choice of positions to an unmask planner,
through the same proposal (greedy, or Gumbel-max at `temperature`, after top-k/top-p) and the same invariants as
`unmask.generate`: at least one reveal per call, the block complete on its last scheduled call.

Calls per block: a planner with a known schedule sets them (dilated: ceil(log2 B); `steps` of the confidence family
count calls per block here); the confidence family without `steps` takes the pipeline's `num_inference_steps`, as
`BlockRefinementScheduler` does; adaptive planners (threshold, entropy_bound) stop when the block is full. A block
ends the moment it has no masks left, so no call is spent on a full block. The planner's options replace the
pipeline's `threshold` and `minimal_topk`; committed tokens are never edited, so `editing_threshold` is ignored.
"""

from __future__ import annotations

import torch
from diffusers import BlockRefinementScheduler
from diffusers.configuration_utils import register_to_config
from diffusers.schedulers.scheduling_block_refinement import BlockRefinementSchedulerOutput
from diffusers.utils import logging

from unmask.planners import PLANNERS, Planner, get_planner
from unmask.step import decode_step, needs_generators, row_memories

logger = logging.get_logger(__name__)


class PlannerScheduler(BlockRefinementScheduler):
    """Block-refinement scheduler driven by an unmask planner (`unmask planners` lists them).

    Args:
        planner: a registered planner name (`dilated`, `threshold`, `entropy_bound`, `confidence`, ...).
        block_length: default block length (the pipeline's `block_length` argument overrides it).
        planner_options: the planner's options, e.g. {"tau": 0.9} for `threshold`, {"base": 2} for `dilated`.
    """

    @register_to_config
    def __init__(self, planner: str = "dilated", block_length: int = 32, planner_options: dict | None = None):
        self.planner = get_planner(planner, **(planner_options or {}))  # a bad name or option fails here
        if self.planner.revises:
            raise ValueError(f"planner {planner!r} re-masks committed tokens, which a diffusers scheduler step cannot "
                             f"express: use it through unmask.generate, or choose another planner")
        self.num_inference_steps = 0
        self.timesteps = torch.zeros(0, dtype=torch.long)
        self._block_planner: Planner | None = None
        self._scheduled_calls = 0  # calls per block when the planner fixes them; 0 for adaptive planners
        self._rows_with_masks: torch.Tensor | None = None  # (B,) after the last step
        self._generator: torch.Generator | None = None
        self._memories: list | None = None  # the planner's per-row memory, for the current block or generation
        self._warned_editing = False

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None,
                      block_length: int | None = None) -> None:
        """Fix the planner for blocks of `block_length`; `num_inference_steps` is used only by the confidence family
        without its own `steps` (calls per block)."""
        if num_inference_steps <= 0:
            raise ValueError(f"`num_inference_steps` must be > 0, got {num_inference_steps}.")
        block_length = self.config.block_length if block_length is None else block_length
        if block_length <= 0:
            raise ValueError(f"`block_length` must be > 0, got {block_length}.")
        options = dict(self.config.planner_options or {})  # by name, so that wrappers (start_stride) keep the budget
        if "steps" in PLANNERS[self.config.planner].options() and options.get("steps") is None and \
                options.get("match") is None:
            # as diffusers' own pipeline does: a block takes at most one call per position
            options["steps"] = min(num_inference_steps, block_length)
        planner = get_planner(self.config.planner, **options)
        planner.check(1, [block_length])
        self._block_planner = planner
        self._scheduled_calls = planner.steps_for(block_length, 0, 1) or 0
        self.num_inference_steps = self._scheduled_calls or block_length  # adaptive: at most one call per position
        self.timesteps = torch.arange(self.num_inference_steps - 1, -1, -1, device=device, dtype=torch.long)
        self._rows_with_masks, self._generator, self._memories = None, None, None

    def step(self, model_output: torch.Tensor, timestep: int | torch.Tensor, sample: torch.LongTensor, *,
             mask_token_id: int | None = None, temperature: float = 0.0, top_p: float | None = None,
             top_k: int | None = None, sampling_method: str = "auto", threshold: float | None = None,
             editing_threshold: float | None = None, minimal_topk: int | None = None,
             prompt_mask: torch.BoolTensor | None = None, generator: torch.Generator | None = None,
             return_dict: bool = True):
        """Commit the planner's positions of one block.

        Args:
            model_output: FloatTensor (B, K, V), the block's logits.
            timestep: index of this call within the block (0-based).
            sample: LongTensor (B, K), the block's tokens, `mask_token_id` where not yet revealed.
            temperature, top_p, top_k: the proposal (`sampling_method="greedy"` forces temperature 0).
            generator: CPU generator for sampling (another device's generator seeds a CPU one).
            threshold, minimal_topk, editing_threshold, prompt_mask: BlockRefinementScheduler's; not used.
        Returns:
            BlockRefinementSchedulerOutput (or its tuple): prev_sample (B, K), transfer_index (B, K), an all-False
            editing_transfer_index, sampled_tokens (B, K), sampled_probs (B, K), pred_logits.
        """
        if mask_token_id is None:
            raise ValueError("PlannerScheduler reveals [MASK] positions and needs mask_token_id; for models without "
                             "a mask token (uniform corruption, DiffusionGemma) use diffusers' BlockRefinementScheduler")
        if self._block_planner is None:
            raise RuntimeError("call set_timesteps(num_inference_steps, block_length=...) before step()")
        if editing_threshold is not None and editing_threshold > 0 and not self._warned_editing:
            logger.warning("PlannerScheduler never edits committed tokens: editing_threshold is ignored "
                           "(pass editing_threshold=None to silence this)")
            self._warned_editing = True
        if sampling_method == "greedy":
            temperature = 0.0
        rows, width = sample.shape
        needs_rng = needs_generators(self._block_planner, temperature)
        generators = [self._cpu_generator(generator)] * rows if needs_rng else None
        new_block = int(timestep) == 0 and self._block_planner.memory_per_block  # a block's calls count from 0
        if self._memories is None or len(self._memories) != rows or new_block:
            self._memories = row_memories(self._block_planner, rows)
        out = decode_step(self._block_planner, model_output.float(), sample, torch.ones_like(sample, dtype=torch.bool),
                          step=torch.full((rows,), int(timestep), dtype=torch.long),
                          block_index=torch.zeros(rows, dtype=torch.long),
                          block_len=torch.full((rows,), width, dtype=torch.long),
                          scheduled=torch.full((rows,), self._scheduled_calls, dtype=torch.long), num_blocks=1,
                          mask_id=mask_token_id, temperature=temperature, top_k=top_k, top_p=top_p,
                          generators=generators, memory=self._memories)
        prev_sample, selected = out.block, out.selected
        logits, proposal = out.state.logits, out.state.proposal  # filtered (B, K, V); (B, K)
        self._rows_with_masks = (prev_sample == mask_token_id).any(-1)
        probs = (logits.gather(-1, proposal.unsqueeze(-1)).squeeze(-1) - logits.logsumexp(-1)).exp()  # (B, K)
        editing = torch.zeros_like(selected)
        if not return_dict:
            return prev_sample, selected, editing, proposal, probs, model_output
        return BlockRefinementSchedulerOutput(prev_sample=prev_sample, transfer_index=selected,
                                              editing_transfer_index=editing, sampled_tokens=proposal,
                                              sampled_probs=probs, pred_logits=model_output)

    def check_block_should_continue(self, step_idx: int, masks_remaining: bool, editing_enabled: bool,
                                    editing_transfer_index: torch.BoolTensor, post_steps: int, max_post_steps: int,
                                    finished: torch.BoolTensor) -> bool:
        """Another call on this block only while an unfinished row still has masks in it."""
        if self._rows_with_masks is None:
            return step_idx < self.num_inference_steps
        waiting = self._rows_with_masks.to(finished.device) & ~finished
        return bool(waiting.any()) and step_idx < self.num_inference_steps

    def _cpu_generator(self, generator: torch.Generator | None) -> torch.Generator:
        if generator is not None and generator.device.type == "cpu":
            return generator
        if self._generator is None:
            seed = generator.initial_seed() if generator is not None else int(torch.randint(2**62, (1,)))
            self._generator = torch.Generator().manual_seed(seed)
        return self._generator
