"""LLaDA / LLaDA-1.5 checkpoints (`LLaDAModelLM`) as transformers' own Llama, without their remote code.

LLaDA (Nie et al. 2025, "Large Language Diffusion Models") is a Llama-shaped transformer with full (bidirectional)
attention: RMSNorm, RoPE (rotate-half), SwiGLU. Its official code (`modeling_llada.py`, an OLMo derivative) only
renames things, so a `LlamaConfig` with `is_causal=False` and a map of weight names reproduce it exactly
(checked against the official code to 1e-4 in float32: `tests/test_official_checkpoints.py`).

Only the configuration that the released checkpoints use is accepted; any other value of a field that changes the
computation is refused with the field's name rather than silently mis-built.
"""

from __future__ import annotations

ARCHITECTURE = "LLaDAModelLM"
MASK_ID, EOS_ID, EOT_ID = 126336, 126081, 126348

# checkpoint name (regex) -> LlamaForCausalLM name
WEIGHT_NAMES = {
    r"^model\.transformer\.wte\.": "model.embed_tokens.",
    r"^model\.transformer\.ln_f\.": "model.norm.",
    r"^model\.transformer\.ff_out\.": "lm_head.",
    r"^model\.transformer\.blocks\.(\d+)\.q_proj\.": r"model.layers.\1.self_attn.q_proj.",
    r"^model\.transformer\.blocks\.(\d+)\.k_proj\.": r"model.layers.\1.self_attn.k_proj.",
    r"^model\.transformer\.blocks\.(\d+)\.v_proj\.": r"model.layers.\1.self_attn.v_proj.",
    r"^model\.transformer\.blocks\.(\d+)\.attn_out\.": r"model.layers.\1.self_attn.o_proj.",
    r"^model\.transformer\.blocks\.(\d+)\.attn_norm\.": r"model.layers.\1.input_layernorm.",
    r"^model\.transformer\.blocks\.(\d+)\.ff_norm\.": r"model.layers.\1.post_attention_layernorm.",
    r"^model\.transformer\.blocks\.(\d+)\.ff_proj\.": r"model.layers.\1.mlp.gate_proj.",
    r"^model\.transformer\.blocks\.(\d+)\.up_proj\.": r"model.layers.\1.mlp.up_proj.",
    r"^model\.transformer\.blocks\.(\d+)\.ff_out\.": r"model.layers.\1.mlp.down_proj.",
}

# fields whose other values change the computation in ways a Llama cannot express: field -> the supported value
_REQUIRED = {
    "block_type": "llama", "activation_type": "silu", "layer_norm_type": "rms", "layer_norm_with_affine": True,
    "rope": True, "alibi": False, "attention_layer_norm": False, "input_emb_norm": False, "scale_logits": False,
    "include_bias": False, "include_qkv_bias": False, "bias_for_layer_norm": False, "block_group_size": 1,
    "clip_qkv": None,
}


def is_llada(raw: dict) -> bool:
    """Whether a config.json (as a dict) is a LLaDA checkpoint's."""
    return ARCHITECTURE in (raw.get("architectures") or []) or str(raw.get("model_type", "")).lower() == "llada"


def llama_config(raw: dict, source: str = "config.json"):
    """The `LlamaConfig` (bidirectional) that computes what the LLaDA config describes.

    Raises:
        ValueError naming the field, for configurations the native build does not reproduce.
    """
    from transformers import LlamaConfig

    for field, supported in _REQUIRED.items():
        if field in raw and raw[field] != supported and not (field == "bias_for_layer_norm" and raw[field] is None):
            raise ValueError(
                f"{source}: {field}={raw[field]!r} is not supported by the native LLaDA build (released LLaDA "
                f"checkpoints use {supported!r}); load the checkpoint's own code with kind='llada_remote', "
                f"trust_remote_code=True under a transformers it supports"
            )
    missing = [f for f in ("d_model", "n_heads", "n_layers", "vocab_size") if not isinstance(raw.get(f), int)]
    if missing:
        raise ValueError(f"{source}: LLaDA config lacks integer field(s) {', '.join(missing)}")
    d_model, n_heads = raw["d_model"], raw["n_heads"]
    if d_model % n_heads:
        raise ValueError(f"{source}: d_model={d_model} is not divisible by n_heads={n_heads}")
    n_kv_heads = raw.get("n_kv_heads") or (1 if raw.get("multi_query_attention") else n_heads)
    if n_heads % n_kv_heads:
        raise ValueError(f"{source}: n_heads={n_heads} is not divisible by n_kv_heads={n_kv_heads}")
    rows = raw.get("embedding_size") or raw["vocab_size"]
    if rows < raw["vocab_size"]:
        raise ValueError(f"{source}: embedding_size={rows} is smaller than vocab_size={raw['vocab_size']}")
    return LlamaConfig(
        vocab_size=rows, hidden_size=d_model, num_hidden_layers=raw["n_layers"], num_attention_heads=n_heads,
        num_key_value_heads=n_kv_heads, head_dim=d_model // n_heads,
        intermediate_size=raw.get("mlp_hidden_size") or raw.get("mlp_ratio", 4) * d_model,
        hidden_act="silu", rms_norm_eps=raw.get("rms_norm_eps", 1e-5),
        rope_parameters={"rope_type": "default", "rope_theta": float(raw.get("rope_theta", 10000.0))},
        max_position_embeddings=raw.get("max_sequence_length", 4096), attention_bias=False, mlp_bias=False,
        tie_word_embeddings=bool(raw.get("weight_tying", False)), is_causal=False,
        mask_token_id=raw.get("mask_token_id", MASK_ID), eos_token_id=raw.get("eos_token_id", EOS_ID),
        pad_token_id=raw.get("pad_token_id", EOS_ID), bos_token_id=None, architectures=["LlamaForCausalLM"],
    )
