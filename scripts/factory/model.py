"""Tiny model configurations and their seeded random weights."""

import numpy as np

FAMILIES = {
    # LLaMA 3 layout: conv q/k/v/gate/up/down, linear o_proj, hand-written
    # softmax, 8-way split LM head (vocab divisible by 8, equal splits).
    "llama": dict(family="llama", prefix="llama", hidden=48, inter=96, layers=2,
                  heads=4, kv_heads=2, head_dim=12, vocab=320, eps=1e-5,
                  rope_theta=500000.0, ctx=64, state=64, batch=8, split=8,
                  seed=20250701, o_gain=1.2, down_gain=1.2, head_gain=12.0),
    # Qwen 3 layout: per-head q/k RMSNorm, softmax op, rotate_half RoPE,
    # conv1d o_proj, head_dim != hidden/heads, 16-way split head with
    # unequal splits (389 = 16*24 + 5).
    # Qwen3-0.6B dimensions, for benchmarks (scripts/make-bench-model)
    "qwen3-0.6b": dict(family="qwen3", prefix="qwen", hidden=1024, inter=3072, layers=28,
                       heads=16, kv_heads=8, head_dim=128, vocab=151936, eps=1e-6,
                       rope_theta=1000000.0, ctx=512, state=512, batch=64, split=16,
                       seed=20250703, o_gain=1.2, down_gain=1.2, head_gain=12.0),
    "qwen3": dict(family="qwen3", prefix="qwen", hidden=48, inter=128, layers=2,
                  heads=4, kv_heads=2, head_dim=16, vocab=389, eps=1e-6,
                  rope_theta=1000000.0, ctx=64, state=64, batch=8, split=16,
                  seed=20250702, o_gain=1.2, down_gain=1.2, head_gain=12.0),
}


def make_weights(cfg, tok_size=None, silent_ids=()):
    """Seeded random fp16 weights, HF parameter names, [out, in] matrices.

    The LM head is built so that greedy decoding is decisive: each token's
    embedding direction strongly predicts a successor token (a fixed
    permutation), and the attention/MLP layers perturb the residual stream
    enough to make the choice depend on context.  Rows for ids that the
    tokenizer does not have (padding of the vocabulary) and for special
    tokens listed in silent_ids are zero, so greedy runs never pick them.
    """
    rs = np.random.RandomState(cfg["seed"])
    H, I, V = cfg["hidden"], cfg["inter"], cfg["vocab"]
    nh, nkv, D, L = cfg["heads"], cfg["kv_heads"], cfg["head_dim"], cfg["layers"]

    def mat(o, i, gain=1.0):
        return (rs.standard_normal((o, i)) * gain / np.sqrt(i)).astype(np.float32)

    def gain_vec(n, spread=0.1):
        return (1.0 + spread * rs.standard_normal(n)).astype(np.float32)

    w = {}
    emb = rs.standard_normal((V, H)).astype(np.float32)
    w["model.embed_tokens.weight"] = emb
    for li in range(L):
        p = "model.layers.%d." % li
        w[p + "input_layernorm.weight"] = gain_vec(H)
        w[p + "self_attn.q_proj.weight"] = mat(nh * D, H, 2.0)
        w[p + "self_attn.k_proj.weight"] = mat(nkv * D, H, 2.0)
        w[p + "self_attn.v_proj.weight"] = mat(nkv * D, H, 1.0)
        w[p + "self_attn.o_proj.weight"] = mat(H, nh * D, cfg.get("o_gain", 0.6))
        if cfg["family"] == "qwen3":
            w[p + "self_attn.q_norm.weight"] = gain_vec(D)
            w[p + "self_attn.k_norm.weight"] = gain_vec(D)
        w[p + "post_attention_layernorm.weight"] = gain_vec(H)
        w[p + "mlp.gate_proj.weight"] = mat(I, H, 1.0)
        w[p + "mlp.up_proj.weight"] = mat(I, H, 1.0)
        w[p + "mlp.down_proj.weight"] = mat(H, I, cfg.get("down_gain", 0.8))
    w["model.norm.weight"] = gain_vec(H)

    # Successor map: token t -> succ[t] (a live id).  Head row succ[t]
    # points along e_t, so the residual stream's token identity decides.
    dead = set(silent_ids)
    if tok_size is not None:
        dead.update(range(tok_size, V))
    live = np.array([t for t in range(V) if t not in dead])
    order = rs.permutation(V)
    succ = live[order % len(live)]
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    head = np.zeros((V, H), dtype=np.float32)
    np.add.at(head, succ, unit)
    head = cfg.get("head_gain", 12.0) * (head + 0.35 * rs.standard_normal((V, H)) / np.sqrt(H))
    head[sorted(dead)] = 0.0
    w["lm_head.weight"] = head.astype(np.float32)
    return {k: v.astype(np.float16) for k, v in w.items()}


def make_weights_keys(cfg):
    """Names of every tensor except the LM head, in HF naming."""
    keys = ["model.embed_tokens.weight", "model.norm.weight"]
    for li in range(cfg["layers"]):
        p = "model.layers.%d." % li
        keys += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
        keys += [p + "self_attn.%s_proj.weight" % x for x in "qkvo"]
        keys += [p + "mlp.%s_proj.weight" % x for x in ("gate", "up", "down")]
        if cfg["family"] == "qwen3":
            keys += [p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight"]
    return keys
