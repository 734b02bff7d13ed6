"""Dream-7B and DiffuCoder-7B checkpoints (`DreamModel`) as transformers' own Qwen2, without their remote code.

Dream (Ye et al. 2025, "Dream 7B") is Qwen2.5 with full attention, trained so that the output at position i-1
predicts the token at position i (the adapter shifts logits right by one). Its weight names are Qwen2's, so a
`Qwen2Config` with `is_causal=False` loads the checkpoint as it is (checked against the official code to 1e-4 in
float32: `tests/test_official_checkpoints.py`). DiffuCoder (Gong et al. 2025) ships the same architecture.
"""

from __future__ import annotations

ARCHITECTURE = "DreamModel"
MASK_ID, EOS_ID = 151666, 151643


def is_dream(raw: dict) -> bool:
    """Whether a config.json (as a dict) is a Dream / DiffuCoder checkpoint's."""
    return ARCHITECTURE in (raw.get("architectures") or []) or str(raw.get("model_type", "")).lower() == "dream"


def qwen2_config(raw: dict, source: str = "config.json"):
    """The `Qwen2Config` (bidirectional) that computes what the Dream config describes.

    Raises:
        ValueError naming the field, for configurations the native build does not reproduce.
    """
    from transformers import Qwen2Config

    missing = [f for f in ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "vocab_size")
               if not isinstance(raw.get(f), int)]
    if missing:
        raise ValueError(f"{source}: Dream config lacks integer field(s) {', '.join(missing)}")
    if raw.get("use_sliding_window"):
        raise ValueError(f"{source}: use_sliding_window=true is not supported by the native Dream build "
                         f"(released Dream and DiffuCoder checkpoints use false)")
    scaling = raw.get("rope_scaling")
    if scaling and scaling.get("rope_type", scaling.get("type")) not in (None, "default"):
        raise ValueError(f"{source}: rope_scaling={scaling!r} is not supported by the native Dream build "
                         f"(released checkpoints use null)")
    if raw.get("hidden_act", "silu") != "silu":
        raise ValueError(f"{source}: hidden_act={raw['hidden_act']!r} is not supported (Dream uses 'silu')")
    heads = raw["num_attention_heads"]
    if raw["hidden_size"] % heads:
        raise ValueError(f"{source}: hidden_size={raw['hidden_size']} is not divisible by num_attention_heads={heads}")
    return Qwen2Config(
        vocab_size=raw["vocab_size"], hidden_size=raw["hidden_size"], intermediate_size=raw["intermediate_size"],
        num_hidden_layers=raw["num_hidden_layers"], num_attention_heads=heads,
        num_key_value_heads=raw.get("num_key_value_heads") or heads, hidden_act="silu",
        max_position_embeddings=raw.get("max_position_embeddings", 32768), rms_norm_eps=raw.get("rms_norm_eps", 1e-6),
        rope_parameters={"rope_type": "default", "rope_theta": float(raw.get("rope_theta", 10000.0))},
        tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)), use_sliding_window=False,
        attention_dropout=0.0, is_causal=False, mask_token_id=raw.get("mask_token_id", MASK_ID),
        eos_token_id=raw.get("eos_token_id", EOS_ID), pad_token_id=raw.get("pad_token_id", EOS_ID),
        bos_token_id=raw.get("bos_token_id"), architectures=["Qwen2ForCausalLM"],
    )
