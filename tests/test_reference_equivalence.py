"""Token-exact equivalence of unmask's planners with the reference decoders they follow (greedy, no early stop).

- `confidence` (steps=S): LLaDA `generate(remasking='low_confidence')` with a float64 softmax (pre-June-2025 LLaDA);
  also Fast-dLLM `generate` without a threshold, whose NFE and reveal steps unmask shares.
- `threshold` (tau): Fast-dLLM `llada/generate.py` `generate(threshold=tau)`, NFE included.
- `dilated` (no deferral): DUS `generate_scheduled(scheduler='dilated', remasking='none')`, NFE included.
- `entropy_bound` (gamma): DUS `generate_eb_sampler`, with a per-block step cap large enough that blocks complete.

The reference decoders are small batch-1 re-statements written from the semantics notes (not copied code): the
whole sequence is recomputed at every step, selection is `torch.topk` over the FULL sequence with -inf at
ineligible positions (or `torch.sort` for EB), probabilities are a float64 softmax of the raw logits and greedy
proposals are the argmax of the raw logits. Each also records the forward at which every position was committed,
so unmask's `reveal_step` is checked against it where the references count forwards the way unmask does.

The model is a tiny 2-layer bidirectional Llama with random weights. Attention and the output layer are scaled
up so that the (otherwise near-identical) masked positions get clearly different, non-degenerate confidences.
"""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

import unmask

torch.set_num_threads(1)

VOCAB, MASK, EOS, PAD = 64, 63, 2, 0
PROMPTS = [
    [5, 6, 7],
    [10, 11, 12, 13, 14, 15, 16],
    [3, 40, 41, 9, 22],
    [60, 1, 33, 33, 33, 17, 8, 48, 25, 12, 2],  # EOS inside the prompt is fine; so is a repeated token
]


def tiny_bidirectional_llama(seed: int) -> LlamaForCausalLM:
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=False, eos_token_id=EOS, pad_token_id=PAD)
    config.is_causal = False
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)  # peaky output: confidences spread over roughly 0.1 .. 0.9
        for layer in model.model.layers:  # sharp, position-dependent attention: masked positions differ
            attn = layer.self_attn
            attn.q_proj.weight.mul_(16.0)
            attn.k_proj.weight.mul_(16.0)
            attn.v_proj.weight.mul_(4.0)
            attn.o_proj.weight.mul_(4.0)
    # A trained MDLM never proposes the mask token; a random one can, and committing the mask id leaves a position
    # masked (the references then carry it into later blocks). Keep the test model realistic: the mask id's logit is
    # pushed far down (finite, so that CFG's difference of logits stays finite).
    model.lm_head.register_forward_hook(lambda module, args, out: out.index_fill(-1, torch.tensor([MASK]), -1e4))
    return model


@pytest.fixture(scope="module", params=[0, 1], ids=["seed0", "seed1"])
def llama(request):
    """(hf_model, denoiser): the reference decoders call the HF model directly, unmask goes through the adapter."""
    hf = tiny_bidirectional_llama(request.param)
    return hf, unmask.wrap_model(hf, None, "bidirectional_llama", mask_id=MASK)


# --------------------------------------------------------------------------------------------------------------
# Reference-style decoders (batch size 1, full recompute every step)
# --------------------------------------------------------------------------------------------------------------

def _start(prompt: list[int], gen_length: int) -> torch.Tensor:
    x = torch.full((1, len(prompt) + gen_length), MASK, dtype=torch.long)
    x[0, : len(prompt)] = torch.tensor(prompt)
    return x


def _logits(hf, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return hf(input_ids=x).logits  # (1, L, V)


def _even_counts(masked: torch.Tensor, steps: int) -> torch.Tensor:
    """Per-row tokens for each of `steps` calls: masked // steps each, the remainder one extra on the first calls."""
    base, extra = masked // steps, masked % steps
    counts = base[:, None].expand(-1, steps).clone()
    counts += (torch.arange(steps)[None, :] < extra[:, None]).long()
    return counts  # (1, steps)


def _greedy_and_prob(logits: torch.Tensor):
    """Argmax of the raw logits, and the float64-softmax probability of that argmax. (1, L) each."""
    x0 = logits.argmax(-1)
    p = torch.softmax(logits.to(torch.float64), dim=-1)
    return x0, torch.gather(p, -1, x0.unsqueeze(-1)).squeeze(-1)


def _commit(x, x0, positions, reveal, call):
    x[0, positions] = x0[0, positions]
    reveal[0, positions] = call


def llada_low_confidence(hf, prompt, *, gen_length, block_length, steps, cfg_scale=0.0):
    """LLaDA generate, remasking='low_confidence', temperature 0. Always `steps` forwards in total."""
    P = len(prompt)
    x = _start(prompt, gen_length)
    reveal = torch.zeros_like(x)
    assert gen_length % block_length == 0
    num_blocks = gen_length // block_length
    assert steps % num_blocks == 0
    per_block = steps // num_blocks
    prompt_index = x != MASK
    calls = 0
    for b in range(num_blocks):
        lo, hi = P + b * block_length, P + (b + 1) * block_length
        counts = _even_counts((x[:, lo:hi] == MASK).sum(1), per_block)
        for i in range(per_block):
            is_mask = x == MASK
            if cfg_scale > 0:
                uncond_x = x.clone()
                uncond_x[prompt_index] = MASK
                both = _logits(hf, torch.cat([x, uncond_x]))
                cond, uncond = both[:1], both[1:]
                logits = uncond + (cfg_scale + 1) * (cond - uncond)
            else:
                logits = _logits(hf, x)
            calls += 1
            x0, p = _greedy_and_prob(logits)
            p[:, hi:] = -torch.inf
            x0 = torch.where(is_mask, x0, x)
            conf = torch.where(is_mask, p, torch.tensor(-torch.inf, dtype=p.dtype))
            chosen = torch.topk(conf[0], int(counts[0, i])).indices
            _commit(x, x0, chosen, reveal, calls)
    return x[0, P:], calls, reveal[0, P:]


def fast_dllm(hf, prompt, *, gen_length, block_length, steps, threshold=None):
    """Fast-dLLM llada generate (no cache), temperature 0, low_confidence. Stops a block as soon as it is full."""
    P = len(prompt)
    x = _start(prompt, gen_length)
    reveal = torch.zeros_like(x)
    assert gen_length % block_length == 0
    num_blocks = gen_length // block_length
    assert steps % num_blocks == 0
    per_block = steps // num_blocks
    nfe = 0
    for b in range(num_blocks):
        lo, hi = P + b * block_length, P + (b + 1) * block_length
        counts = _even_counts((x[:, lo:hi] == MASK).sum(1), per_block)
        i = 0
        while True:
            nfe += 1
            logits = _logits(hf, x)
            is_mask = x == MASK
            is_mask[:, hi:] = False
            x0, p = _greedy_and_prob(logits)
            x0 = torch.where(is_mask, x0, x)
            conf = torch.where(is_mask, p, torch.tensor(-torch.inf, dtype=p.dtype))
            k = int(is_mask.sum()) if threshold is not None else int(counts[0, i])
            values, chosen = torch.topk(conf[0], k)
            keep = torch.ones(k, dtype=torch.bool)
            if threshold is not None:
                for rank in range(1, k):  # every rank but the first is dropped when below the threshold
                    if values[rank] < threshold:
                        keep[rank] = False
            _commit(x, x0, chosen[keep], reveal, nfe)
            i += 1
            if not bool((x[:, lo:hi] == MASK).any()):
                break
    return x[0, P:], nfe, reveal[0, P:]


def dus_levels(first: int, last: int, base: int = 2, skip: int = 1) -> list[list[int]]:
    """DUS dilated schedule of the inclusive position range [first, last], last level merged when smaller."""
    if base == 1:
        return [list(range(first, last + 1))]
    length = last - first + 1
    stride = length // base**skip
    taken: set[int] = set()
    levels = []
    while stride >= 1:
        level = [first + o for o in range(length) if o % stride == 0 and o not in taken]
        if level:
            levels.append(level)
            taken.update(p - first for p in level)
        stride //= base
    rest = [first + o for o in range(length) if o not in taken]
    if rest:
        levels.append(rest)
    if len(levels) >= 2 and len(levels[-1]) < len(levels[-2]):
        smaller = levels.pop()
        levels[-1] = levels[-1] + smaller
    return levels


def dus_scheduled_dilated(hf, prompt, *, gen_length, block_length, base=2, skip=1):
    """DUS generate_scheduled(scheduler='dilated', remasking='none'), temperature 0. NFE = levels per block."""
    P = len(prompt)
    x = _start(prompt, gen_length)
    reveal = torch.zeros_like(x)
    assert gen_length % block_length == 0
    nfe = 0
    for b in range(gen_length // block_length):
        first, last = P + b * block_length, P + (b + 1) * block_length - 1
        for level in dus_levels(first, last, base, skip):
            if not bool((x == MASK).any()):
                break
            logits = _logits(hf, x)
            nfe += 1
            x0 = logits.argmax(-1)
            todo = [pos for pos in level if int(x[0, pos]) == MASK]
            _commit(x, x0, torch.tensor(todo, dtype=torch.long), reveal, nfe)
    return x[0, P:], nfe, reveal[0, P:]


def dus_eb_sampler(hf, prompt, *, gen_length, block_length, steps, gamma):
    """DUS generate_eb_sampler, temperature 0: lowest-entropy (bits) masked block positions while the entropies
    before them sum to <= gamma (cumsum - cummax of the ascending sort), at least one; `steps // blocks` cap."""
    P = len(prompt)
    x = _start(prompt, gen_length)
    reveal = torch.zeros_like(x)
    assert gen_length % block_length == 0
    num_blocks = gen_length // block_length
    assert steps % num_blocks == 0
    cap = steps // num_blocks
    nfe = 0
    for b in range(num_blocks):
        lo, hi = P + b * block_length, P + (b + 1) * block_length
        for _ in range(cap):
            in_block = x[:, lo:hi] == MASK
            if not bool(in_block.any()):
                break
            logits = _logits(hf, x)
            nfe += 1
            x0 = logits.argmax(-1)
            p = torch.softmax(logits.to(torch.float64), dim=-1)
            entropy = -(p * torch.log2(p + 1e-10)).sum(-1)  # (1, L) bits
            block_entropy = entropy[:, lo:hi].masked_fill(~in_block, torch.inf)
            ordered, order = torch.sort(block_entropy, dim=-1)
            n = int(in_block.sum())
            ordered, order = ordered[0, :n], order[0, :n]
            budget = torch.cumsum(ordered, 0) - torch.cummax(ordered, 0).values
            k = max(1, min(int((budget <= gamma).sum()), n))
            _commit(x, x0, lo + order[:k], reveal, nfe)
    return x[0, P:], nfe, reveal[0, P:]


def _run(denoiser, prompt, **kwargs):
    result = unmask.generate(denoiser, [prompt], eos_early_stop=False, **kwargs)
    return result.tokens[0], int(result.nfe[0]), result.reveal_step[0]


def _assert_same(got, expected, what=""):
    assert got.tolist() == expected.tolist(), f"{what}\n unmask:    {got.tolist()}\n reference: {expected.tolist()}"


# --------------------------------------------------------------------------------------------------------------
# Sanity of the test model itself
# --------------------------------------------------------------------------------------------------------------

def test_model_is_bidirectional_and_not_degenerate(llama):
    hf, _ = llama
    x = _start(PROMPTS[1], 16)
    logits = _logits(hf, x)
    later = x.clone()
    later[0, -1] = 9
    assert not torch.allclose(_logits(hf, later)[0, 0], logits[0, 0]), "changing a later token must change earlier logits"
    x0, p = _greedy_and_prob(logits[:, len(PROMPTS[1]):])
    assert len(set(x0[0].tolist())) >= 2, "masked positions should not all propose one token"
    assert float(p.max() - p.min()) > 0.05, "confidences should differ between masked positions"


# --------------------------------------------------------------------------------------------------------------
# confidence == LLaDA low_confidence (tokens) == Fast-dLLM without threshold (tokens, NFE, reveal steps)
# --------------------------------------------------------------------------------------------------------------

CONFIDENCE_CASES = [  # (gen_length, block_length, steps)
    (16, 8, 6),    # 3 calls per block: k = 3, 3, 2
    (16, 8, 16),   # one token per call
    (16, 16, 5),   # one block: k = 4, 3, 3, 3, 3
    (32, 8, 8),    # 2 calls per block: k = 4, 4
    (32, 16, 12),  # 6 calls per block: k = 3, 3, 3, 3, 2, 2
    # more calls per block than positions (LLaDA's zero-token calls) is rejected: see tests/test_bad_inputs.py
    (8, 8, 1),     # everything in one call
]


@pytest.mark.parametrize("prompt", PROMPTS, ids=lambda p: f"P{len(p)}")
@pytest.mark.parametrize("gen_length,block_length,steps", CONFIDENCE_CASES)
def test_confidence_matches_llada_and_fast_dllm(llama, prompt, gen_length, block_length, steps):
    hf, denoiser = llama
    tokens, nfe, reveal = _run(denoiser, prompt, planner="confidence", steps=steps, gen_length=gen_length,
                               block_length=block_length)
    ref_tokens, ref_calls, _ = llada_low_confidence(hf, prompt, gen_length=gen_length, block_length=block_length,
                                                    steps=steps)
    _assert_same(tokens, ref_tokens, "confidence vs LLaDA low_confidence")
    assert ref_calls == steps  # LLaDA always spends every step, even those that reveal nothing
    fd_tokens, fd_nfe, fd_reveal = fast_dllm(hf, prompt, gen_length=gen_length, block_length=block_length, steps=steps)
    _assert_same(tokens, fd_tokens, "confidence vs Fast-dLLM (no threshold)")
    num_blocks = gen_length // block_length
    assert nfe == fd_nfe == num_blocks * min(steps // num_blocks, block_length)
    _assert_same(reveal, fd_reveal, "reveal steps")


@pytest.mark.parametrize("prompt", PROMPTS[:2], ids=lambda p: f"P{len(p)}")
@pytest.mark.parametrize("cfg_scale", [0.5, 2.0])
def test_confidence_with_cfg_matches_llada(llama, prompt, cfg_scale):
    hf, denoiser = llama
    tokens, _, _ = _run(denoiser, prompt, planner="confidence", steps=8, gen_length=16, block_length=8,
                        cfg_scale=cfg_scale)
    ref_tokens, _, _ = llada_low_confidence(hf, prompt, gen_length=16, block_length=8, steps=8, cfg_scale=cfg_scale)
    _assert_same(tokens, ref_tokens, f"confidence cfg={cfg_scale} vs LLaDA")


# --------------------------------------------------------------------------------------------------------------
# threshold == Fast-dLLM generate(threshold=tau), NFE included
# --------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("prompt", PROMPTS, ids=lambda p: f"P{len(p)}")
@pytest.mark.parametrize("gen_length,block_length", [(16, 8), (32, 16), (24, 4), (16, 16)])
@pytest.mark.parametrize("tau", [0.0, 0.2, 0.35, 0.5, 0.7, 0.9, 1.0])
def test_threshold_matches_fast_dllm(llama, prompt, gen_length, block_length, tau):
    hf, denoiser = llama
    tokens, nfe, reveal = _run(denoiser, prompt, planner="threshold", tau=tau, gen_length=gen_length,
                               block_length=block_length)
    ref_tokens, ref_nfe, ref_reveal = fast_dllm(hf, prompt, gen_length=gen_length, block_length=block_length,
                                                steps=gen_length, threshold=tau)
    _assert_same(tokens, ref_tokens, f"threshold tau={tau} vs Fast-dLLM")
    assert nfe == ref_nfe
    _assert_same(reveal, ref_reveal, "reveal steps")


def test_threshold_nfe_is_adaptive(llama):
    """The cases above are not trivial: tau moves the NFE between one call per block and one call per token."""
    _, denoiser = llama
    nfes = [_run(denoiser, PROMPTS[1], planner="threshold", tau=tau, gen_length=32, block_length=16)[1]
            for tau in (0.0, 0.35, 1.0)]
    assert nfes[0] == 2 and nfes[2] == 32
    assert nfes[0] <= nfes[1] <= nfes[2]


# --------------------------------------------------------------------------------------------------------------
# dilated == DUS generate_scheduled(scheduler='dilated', remasking='none'), NFE included
# --------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("prompt", PROMPTS, ids=lambda p: f"P{len(p)}")
@pytest.mark.parametrize("gen_length,block_length,base,skip", [
    (16, 8, 2, 1),
    (32, 16, 2, 1),
    (32, 32, 2, 1),
    (24, 12, 2, 1),   # non-power of two: [0,6] [3,9] [the other 8]
    (20, 10, 2, 1),
    (20, 5, 2, 1),    # [0,2,4] [1,3] merge into one group
    (32, 16, 2, 2),
    (32, 8, 2, 3),    # initial stride 0: one group
    (18, 9, 3, 1),    # base 3: [0,3,6] then the rest
])
def test_dilated_matches_dus(llama, prompt, gen_length, block_length, base, skip):
    hf, denoiser = llama
    tokens, nfe, reveal = _run(denoiser, prompt, planner="dilated", base=base, skip=skip, gen_length=gen_length,
                               block_length=block_length)
    ref_tokens, ref_nfe, ref_reveal = dus_scheduled_dilated(hf, prompt, gen_length=gen_length,
                                                            block_length=block_length, base=base, skip=skip)
    _assert_same(tokens, ref_tokens, "dilated vs DUS generate_scheduled")
    assert nfe == ref_nfe == (gen_length // block_length) * len(dus_levels(0, block_length - 1, base, skip))
    _assert_same(reveal, ref_reveal, "reveal steps")


# --------------------------------------------------------------------------------------------------------------
# entropy_bound == DUS generate_eb_sampler (cap >= block length, so every block completes)
# --------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("prompt", PROMPTS, ids=lambda p: f"P{len(p)}")
@pytest.mark.parametrize("gen_length,block_length", [(16, 8), (32, 16), (24, 4), (16, 16)])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 4.0, 10.0, 1000.0])
def test_entropy_bound_matches_dus_eb(llama, prompt, gen_length, block_length, gamma):
    hf, denoiser = llama
    tokens, nfe, reveal = _run(denoiser, prompt, planner="entropy_bound", gamma=gamma, gen_length=gen_length,
                               block_length=block_length)
    ref_tokens, ref_nfe, ref_reveal = dus_eb_sampler(hf, prompt, gen_length=gen_length, block_length=block_length,
                                                     steps=gen_length, gamma=gamma)
    _assert_same(tokens, ref_tokens, f"entropy_bound gamma={gamma} vs DUS EB")
    assert nfe == ref_nfe
    _assert_same(reveal, ref_reveal, "reveal steps")


def test_entropy_bound_nfe_is_adaptive(llama):
    _, denoiser = llama
    nfes = [_run(denoiser, PROMPTS[1], planner="entropy_bound", gamma=g, gen_length=32, block_length=16)[1]
            for g in (0.0, 4.0, 1000.0)]
    assert nfes[0] == 32 and nfes[2] == 2
    assert nfes[0] >= nfes[1] >= nfes[2]


# --------------------------------------------------------------------------------------------------------------
# Batched: rows of different prompt lengths (left padding) decode as if alone
# --------------------------------------------------------------------------------------------------------------

BATCH = [PROMPTS[0], PROMPTS[1], PROMPTS[3]]  # lengths 3, 7, 11


@pytest.mark.parametrize("planner,options,reference", [
    ("confidence", {"steps": 12}, lambda hf, p: llada_low_confidence(hf, p, gen_length=24, block_length=8, steps=12)),
    ("threshold", {"tau": 0.35}, lambda hf, p: fast_dllm(hf, p, gen_length=24, block_length=8, steps=24,
                                                         threshold=0.35)),
    ("dilated", {}, lambda hf, p: dus_scheduled_dilated(hf, p, gen_length=24, block_length=8)),
    ("entropy_bound", {"gamma": 2.0}, lambda hf, p: dus_eb_sampler(hf, p, gen_length=24, block_length=8, steps=24,
                                                                   gamma=2.0)),
], ids=["confidence", "threshold", "dilated", "entropy_bound"])
def test_batch_rows_match_reference_alone(llama, planner, options, reference):
    hf, denoiser = llama
    result = unmask.generate(denoiser, BATCH, planner=planner, gen_length=24, block_length=8, eos_early_stop=False,
                             **options)
    assert result.tokens.shape == (3, 24)
    for row, prompt in enumerate(BATCH):
        ref_tokens, ref_nfe, _ = reference(hf, prompt)
        _assert_same(result.tokens[row], ref_tokens, f"{planner} batch row {row}")
        if planner != "confidence":  # LLaDA always spends all steps; the others count forwards like unmask
            assert int(result.nfe[row]) == ref_nfe
