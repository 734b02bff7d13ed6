"""lm-evaluation-harness model `unmask`: any masked diffusion LM, any planner, registered on import.

    lm_eval --model unmask --include_path my_tasks/ --tasks gsm8k \\
        --model_args pretrained=/models/LLaDA-8B-Instruct,planner=dilated,block_length=32,gen_length=256

`generate_until` decodes `batch_size` requests per call and honours `until` stop strings (and `max_gen_toks`, which
caps gen_length). `loglikelihood` is LLaDA's Monte-Carlo estimate: the continuation's log-likelihood is bounded by
-E[(L / k) * sum of cross-entropies over k masked continuation tokens], averaged over `mc_num` masks whose counts k
are stratified over 1..L. Under `accelerate launch` / `torchrun` each process takes its share of requests.
Planner options not named below go to the planner (`tau=0.9`, `base=2`, ...).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

import unmask
from unmask.config import DecodeConfig
from unmask.decode import decode


@register_model("unmask")
class UnmaskLM(LM):
    """Args (model_args): pretrained (path or "bundled"), planner, gen_length, block_length, temperature, cfg_scale,
    cache, mc_num, batch_size, device, dtype, trust_remote_code, mask_id, plus planner options."""

    def __init__(self, pretrained: str = "bundled", planner: str = "dilated", gen_length: int = 128,
                 block_length: int = 32, temperature: float = 0.0, cfg_scale: float = 0.0, cache: str = "none",
                 mc_num: int = 32, batch_size: int | str = 8, device: str | None = None, dtype: str | None = None,
                 trust_remote_code: bool = False, mask_id: int | None = None, seed: int = 0, max_batch_size=None,
                 **planner_options):
        super().__init__()
        unmask.get_planner(planner, **planner_options)  # a bad planner or option fails before the model loads
        self.config = DecodeConfig(planner=planner, planner_options=planner_options, gen_length=int(gen_length),
                                   block_length=int(block_length), temperature=float(temperature),
                                   cfg_scale=float(cfg_scale), cache=cache, seed=seed)
        self.batch_size = int(batch_size) if str(batch_size).isdigit() else 8
        self.mc_num = int(mc_num)
        self._state = _distributed_state()
        if self._state is not None:
            self._rank, self._world_size = self._state.process_index, self._state.num_processes
            device = str(self._state.device)
        elif device and str(device).startswith("cuda") and not torch.cuda.is_available():
            device = "cpu"  # lm-eval's command line asks for cuda by default
        self.model = unmask.load_model(None if pretrained == "bundled" else pretrained, device=device, dtype=dtype,
                                       trust_remote_code=bool(trust_remote_code), mask_id=mask_id)
        self._device = self.model.device
        self.generator = torch.Generator().manual_seed(int(seed) + self._rank)

    @property
    def tokenizer_name(self) -> str:
        return getattr(self.model.tokenizer, "name_or_path", "unmask").replace("/", "__")

    def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
        return self.model.tokenizer.apply_chat_template(chat_history, tokenize=False,
                                                        add_generation_prompt=add_generation_prompt)

    # ---- generation -------------------------------------------------------------------------------------------
    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        outputs = []
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start : start + self.batch_size]
            groups: dict[tuple, list[int]] = {}
            for i, request in enumerate(chunk):  # one decode per distinct (until, max_gen_toks) in the batch
                kwargs = request.args[1] if len(request.args) > 1 else {}
                until = kwargs.get("until") or []
                until = (until,) if isinstance(until, str) else tuple(until)
                groups.setdefault((until, kwargs.get("max_gen_toks")), []).append(i)
            texts = [""] * len(chunk)
            for (until, max_gen), rows in groups.items():
                gen_length = min(self.config.gen_length, int(max_gen)) if max_gen else self.config.gen_length
                config = DecodeConfig.from_dict({**self.config.to_dict(), "stop": list(until),
                                                 "gen_length": gen_length})
                result = decode(self.model, [chunk[i].args[0] for i in rows], config)
                for i, text in zip(rows, result.texts):
                    texts[i] = text
            outputs += texts
        return outputs

    # ---- likelihood ---------------------------------------------------------------------------------------------
    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        return [self._loglikelihood(*self._encode_pair(*request.args)) for request in requests]

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        return [self._loglikelihood([], self._encode(request.args[0]))[0] for request in requests]

    def _encode(self, text: str) -> list[int]:
        return self.model.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        whole = self._encode(context + continuation)
        context_ids = self._encode(context)
        return context_ids, whole[len(context_ids):]

    @torch.inference_mode()
    def _loglikelihood(self, context: list[int], continuation: list[int]) -> tuple[float, bool]:
        """Monte-Carlo masked estimate of log p(continuation | context), and whether greedy filling reproduces it."""
        length = len(continuation)
        if length == 0:
            return 0.0, True
        sequence = torch.tensor(context + continuation, device=self._device)  # (L,)
        target = sequence[len(context):]
        estimates = []
        first = int(torch.randint(1, length + 1, (1,), generator=self.generator))
        for start in range(0, self.mc_num, self.batch_size):
            n = min(self.batch_size, self.mc_num - start)
            # stratified counts of masked tokens: k_j = first + j * length / mc_num, wrapped into 1..length
            k = torch.tensor([(first - 1 + round((start + j) * length / self.mc_num)) % length + 1 for j in range(n)])
            order = torch.argsort(torch.rand(n, length, generator=self.generator), dim=-1)  # random positions
            masked = order < k[:, None]  # (n, T): exactly k_j masked per row
            noisy = sequence.repeat(n, 1)
            noisy[:, len(context):][masked.to(self._device)] = self.model.mask_id
            logits = self.model(noisy)[:, len(context):].float()  # (n, T, V)
            losses = F.cross_entropy(logits.transpose(1, 2), target.repeat(n, 1), reduction="none").cpu()  # (n, T)
            estimates += ((losses * masked).sum(-1) * length / k).tolist()
        everything = sequence.clone()
        everything[len(context):] = self.model.mask_id
        greedy = self.model(everything[None])[0, len(context):].argmax(-1)
        return -sum(estimates) / len(estimates), bool(torch.equal(greedy, target))

    # ---- data parallel ------------------------------------------------------------------------------------------
    def all_gather(self, tensor):
        if self._world_size == 1:
            return tensor
        gathered = [torch.zeros_like(tensor) for _ in range(self._world_size)]
        torch.distributed.all_gather(gathered, tensor)
        return torch.stack(gathered) if tensor.dim() == 0 else torch.cat(gathered)

    def gather_object(self, obj, dst=0):
        if self._world_size == 1:
            return [obj]
        gathered = [None] * self._world_size if self._rank == dst else None
        torch.distributed.gather_object(obj, gathered, dst=dst)
        return gathered

    def barrier(self) -> None:
        if self._state is not None:
            self._state.wait_for_everyone()


def _distributed_state():
    """accelerate's PartialState under a multi-process launcher (gloo on CPU), else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())
