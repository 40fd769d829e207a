"""MIL programs with ANEMLL's component interfaces and op patterns.

Every builder returns a pymil Program for one function, built op by op with
coremltools' MIL builder at opset iOS18, in fp16, in the tensor layouts that
ANEMLL's converter produces (see docs/ANEMLL.md section 4 and the printed
programs in docs/anemll-graphs/).
"""

import numpy as np
import coremltools as ct
from coremltools.converters.mil import Builder as mb
from coremltools.converters.mil.mil import types, get_new_symbol

FP16 = types.fp16
I32 = types.int32
STATE_NAME = "model_model_kv_cache_0"


def _i32(*v):
    return np.array(v, dtype=np.int32)


def _h(x):
    return np.asarray(x, dtype=np.float16)


def rope_tables(cfg):
    """cos/sin tables [1, 2*max(C,S), D] fp16 built from cat(freqs, freqs)."""
    d = cfg["head_dim"]
    n = 2 * max(cfg["ctx"], cfg["state"])
    inv = 1.0 / (cfg["rope_theta"] ** (np.arange(0, d, 2, dtype=np.float32) / d))
    t = np.arange(n, dtype=np.float32)
    freqs = np.outer(t, inv)
    emb = np.concatenate([freqs, freqs], axis=-1)
    return _h(np.cos(emb))[None], _h(np.sin(emb))[None]


def _const(name, val):
    return mb.const(val=val, name=name)


def _rmsnorm(x, w, eps, hidden, rank, name):
    """ANEMLL 0.3.4 RMSNorm: layer_norm over concat([x, -x]) then slice and gain."""
    neg = mb.mul(x=x, y=np.float16(-1.0))
    cat = mb.concat(values=[x, neg], axis=-1, interleave=False)
    ln = mb.layer_norm(x=cat, axes=[-1], epsilon=np.float16(eps))
    shape = list(x.shape)
    begin = [0] * rank
    end = shape[:-1] + [hidden]
    end_mask = [True] * (rank - 1) + [False]
    sl = mb.slice_by_index(x=ln, begin=begin, end=end, end_mask=end_mask)
    if name:
        return mb.mul(x=sl, y=w, name=name)
    return mb.mul(x=sl, y=w)


def _to_conv_layout(x):
    """[1,T,H] -> transpose -> [1,H,T] -> expand_dims -> [1,H,1,T]."""
    t = mb.transpose(x=x, perm=[0, 2, 1])
    return mb.expand_dims(x=t, axes=[2])


def _conv(x, w):
    return mb.conv(x=x, weight=w, strides=[1, 1], pad_type="valid",
                   pad=[0, 0, 0, 0], dilations=[1, 1], groups=1)


def _from_conv_layout(y, name=None):
    """[1,O,1,T] -> squeeze(axes=[2]) -> [1,O,T] -> transpose -> [1,T,O]."""
    s = mb.squeeze(x=y, axes=[2])
    if name:
        return mb.transpose(x=s, perm=[0, 2, 1], name=name)
    return mb.transpose(x=s, perm=[0, 2, 1])


class Weights:
    """Const ops for one model's tensors, created on demand inside a program."""

    def __init__(self, w):
        self.w = w

    def get(self, key, transform=None):
        val = self.w[key]
        if transform is not None:
            val = transform(val)
        name = key.replace(".", "_") + "_to_fp16"
        return _const(name, val)


# --------------------------------------------------------------------------
# Embeddings
# --------------------------------------------------------------------------

def build_embeddings(cfg, w):
    T = get_new_symbol()

    @mb.program(input_specs=[mb.TensorSpec((1, T), dtype=I32)],
                opset_version=ct.target.iOS18)
    def prog(input_ids):
        W = Weights(w)
        table = W.get("model.embed_tokens.weight")
        return mb.gather(x=table, indices=input_ids, axis=0, batch_dims=0,
                         validate_indices=False, name="hidden_states")

    return prog


# --------------------------------------------------------------------------
# LM head
# --------------------------------------------------------------------------

def head_split_sizes(vocab, n, family):
    if family == "llama":
        return [vocab // n] * n
    base, rem = divmod(vocab, n)
    return [base + (1 if i < rem else 0) for i in range(n)]


def _lm_head_body(cfg, w, hidden_states, argmax):
    """hidden_states [1,1,H] -> logits1..N, or (argmax_idx, argmax_val)."""
    H = cfg["hidden"]
    sizes = head_split_sizes(cfg["vocab"], cfg["split"], cfg["family"])
    x = _to_conv_layout(hidden_states)
    full = w["lm_head.weight"]
    outs = []
    off = 0
    for i, n in enumerate(sizes):
        wi = full[off:off + n].reshape(n, H, 1, 1)
        off += n
        c = _conv(x, _const("lm_head%d_weight_to_fp16" % (i + 1), wi))
        name = None if argmax else "logits%d" % (i + 1)
        outs.append(_from_conv_layout(c, name=name))
    if not argmax:
        return tuple(outs)
    idxs, vals = [], []
    for i, l in enumerate(outs):
        a = mb.reduce_argmax(x=l, axis=-1, keep_dims=True, output_dtype="int32")
        v = mb.gather_along_axis(x=l, indices=a, axis=-1, validate_indices=False)
        idxs.append(a)
        vals.append(v)
    ci = mb.concat(values=idxs, axis=-1, interleave=False)
    ci = mb.squeeze(x=ci, axes=[0])
    ci = mb.squeeze(x=ci, axes=[0], name="argmax_idx")
    cv = mb.concat(values=vals, axis=-1, interleave=False)
    cv = mb.squeeze(x=cv, axes=[0])
    cv = mb.squeeze(x=cv, axes=[0], name="argmax_val")
    return ci, cv


def build_lm_head(cfg, w, argmax=False):
    H = cfg["hidden"]
    sizes = head_split_sizes(cfg["vocab"], cfg["split"], cfg["family"])

    @mb.program(input_specs=[mb.TensorSpec((1, 1, H), dtype=FP16)],
                opset_version=ct.target.iOS18)
    def prog(hidden_states):
        return _lm_head_body(cfg, w, hidden_states, argmax)

    return prog, sizes


# --------------------------------------------------------------------------
# FFN chunk (transformer layers) -- infer and prefill
# --------------------------------------------------------------------------

def _attn_infer_qk(cfg, W, li, x4, cos, sin):
    """q/k/v projections and RoPE for one decode token. Returns q, k, v."""
    nh, nkv, D = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
    p = "model.layers.%d." % li
    q = _conv(x4, W.get(p + "self_attn.q_proj.weight"))
    q = mb.reshape(x=q, shape=[1, nh, 1, D])
    k = _conv(x4, W.get(p + "self_attn.k_proj.weight"))
    k = mb.reshape(x=k, shape=[1, nkv, 1, D])
    v = _conv(x4, W.get(p + "self_attn.v_proj.weight"))
    v = mb.reshape(x=v, shape=[1, nkv, 1, D])
    if cfg["family"] == "qwen3":
        q = _rmsnorm(q, W.get(p + "self_attn.q_norm.weight"), cfg["eps"], D, 4, None)
        k = _rmsnorm(k, W.get(p + "self_attn.k_norm.weight"), cfg["eps"], D, 4, None)
    q = _rope(cfg, q, cos, sin)
    k = _rope(cfg, k, cos, sin)
    return q, k, v


def _rope(cfg, x, cos, sin):
    """x [1,h,T,D]; cos/sin [1,1,T,D] (or [1,1,1,D] for decode)."""
    D = cfg["head_dim"]
    h2 = D // 2
    shp = list(x.shape)
    x1 = mb.slice_by_index(x=x, begin=[0, 0, 0, 0], end=shp[:3] + [h2],
                           end_mask=[True, True, True, False])
    x2 = mb.slice_by_index(x=x, begin=[0, 0, 0, h2], end=shp[:3] + [D],
                           end_mask=[True, True, True, True])
    if cfg["family"] == "llama":
        cshp = list(cos.shape)
        c = mb.slice_by_index(x=cos, begin=[0, 0, 0, 0], end=cshp[:3] + [h2],
                              end_mask=[True, True, True, False])
        s = mb.slice_by_index(x=sin, begin=[0, 0, 0, 0], end=cshp[:3] + [h2],
                              end_mask=[True, True, True, False])
        a = mb.sub(x=mb.mul(x=x1, y=c), y=mb.mul(x=x2, y=s))
        b = mb.add(x=mb.mul(x=x2, y=c), y=mb.mul(x=x1, y=s))
        return mb.concat(values=[a, b], axis=-1, interleave=False)
    # rotate_half form: x*cos + cat(-x2, x1)*sin
    xc = mb.mul(x=x, y=cos)
    rot = mb.concat(values=[mb.mul(x=x2, y=np.float16(-1.0)), x1], axis=-1, interleave=False)
    return mb.add(x=xc, y=mb.mul(x=rot, y=sin))


def _kv_write(cache, state, update, idx, current_pos, pos_end):
    z = _i32(0)
    begin = mb.concat(values=[_i32(idx), z, current_pos, z], axis=0, interleave=False)
    end = mb.concat(values=[_i32(idx + 1), z, pos_end, z], axis=0, interleave=False)
    upd = mb.slice_update(x=cache, update=update, begin=begin, end=end,
                          stride=[1, 1, 1, 1],
                          begin_mask=[False, False, False, False],
                          end_mask=[False, True, False, True],
                          squeeze_mask=[False, False, False, False])
    return mb.coreml_update_state(state=state, value=upd)


def _layer_cache(cfg, cache, idx):
    nkv, S, D = cfg["kv_heads"], cfg["state"], cfg["head_dim"]
    s = mb.slice_by_index(x=cache, begin=[idx, 0, 0, 0], end=[idx + 1, nkv, S, D],
                          end_mask=[False, True, True, True])
    return mb.squeeze(x=s, axes=[0])


def _gqa_tile(cfg, kv):
    """[Hkv,S,D] -> expand_dims(1) -> tile -> [Hkv,n_rep,S,D]."""
    n_rep = cfg["heads"] // cfg["kv_heads"]
    e = mb.expand_dims(x=kv, axes=[1])
    return mb.tile(x=e, reps=[1, n_rep, 1, 1])


def _softmax(cfg, x):
    if cfg["family"] == "qwen3":
        return mb.softmax(x=x, axis=-1)
    m = mb.reduce_max(x=x, axes=[-1], keep_dims=True)
    e = mb.exp(x=mb.sub(x=x, y=m))
    s = mb.reduce_sum(x=e, axes=[-1], keep_dims=True)
    return mb.real_div(x=e, y=s)


def _o_proj(cfg, W, li, attn, T):
    """attn [1,T,heads*D] -> o_proj -> [1,T,H]."""
    p = "model.layers.%d.self_attn.o_proj.weight" % li
    if cfg["family"] == "llama":
        H = cfg["hidden"]
        return mb.linear(x=attn, weight=W.get(p), bias=_const(
            "model_layers_%d_self_attn_o_proj_bias_to_fp16" % li, _h(np.zeros(H))))
    # Qwen: Conv1d with a rank-3 weight [H, heads*D, 1]
    t = mb.transpose(x=attn, perm=[0, 2, 1])
    c = mb.conv(x=t, weight=W.get(p, lambda a: a.reshape(a.shape[0], a.shape[1], 1)),
                strides=[1], pad_type="valid", pad=[0, 0], dilations=[1], groups=1)
    return mb.transpose(x=c, perm=[0, 2, 1])


def _mlp(cfg, W, li, x):
    p = "model.layers.%d.mlp." % li
    x4 = _to_conv_layout(x)
    g = _conv(x4, W.get(p + "gate_proj.weight"))
    u = _conv(x4, W.get(p + "up_proj.weight"))
    a = mb.mul(x=mb.silu(x=g), y=u)
    d = _conv(a, W.get(p + "down_proj.weight"))
    return _from_conv_layout(d)


def _conv_weights(w):
    """Return a copy where every projection weight [O,I] becomes [O,I,1,1]."""
    out = {}
    for k, v in w.items():
        if k.endswith("_proj.weight") and "o_proj" not in k and v.ndim == 2:
            out[k] = v.reshape(v.shape[0], v.shape[1], 1, 1)
        else:
            out[k] = v
    return out


def _ffn_body(cfg, cw, layers, last, mode, hidden_states, position_ids, causal_mask,
              current_pos, state, name_output=True):
    """The layers of one FFN chunk function on hidden_states; returns the
    chunk's output (named output_hidden_states when name_output)."""
    H, S = cfg["hidden"], cfg["state"]
    L, nkv, D, nh = cfg["layers"], cfg["kv_heads"], cfg["head_dim"], cfg["heads"]
    B = cfg["batch"]
    T = 1 if mode == "infer" else B
    cos_t, sin_t = rope_tables(cfg)
    scale = np.float16(1.0 / np.sqrt(D))
    out_name = "output_hidden_states" if name_output else None
    W = Weights(cw)
    idx = current_pos if mode == "infer" else position_ids
    sin = mb.gather(x=_const("sin_cached_to_fp16", sin_t), indices=idx, axis=1,
                    batch_dims=0, validate_indices=False)
    cos = mb.gather(x=_const("cos_cached_to_fp16", cos_t), indices=idx, axis=1,
                    batch_dims=0, validate_indices=False)
    if mode == "infer":
        sin = mb.reshape(x=sin, shape=[1, 1, 1, -1])
        cos = mb.reshape(x=cos, shape=[1, 1, 1, -1])
    else:
        sin = mb.reshape(x=sin, shape=[1, B, 1, D])
        cos = mb.reshape(x=cos, shape=[1, B, 1, D])
        cos = mb.transpose(x=cos, perm=[0, 2, 1, 3])
        sin = mb.transpose(x=sin, perm=[0, 2, 1, 3])
    if mode == "infer":
        pos_end = mb.add(x=current_pos, y=_i32(1))
    else:
        pos_end = mb.add(x=current_pos, y=_i32(B))

    h = hidden_states
    cache = None
    for n, li in enumerate(layers):
        p = "model.layers.%d." % li
        xn = _rmsnorm(h, W.get(p + "input_layernorm.weight"), cfg["eps"], H, 3, None)
        x4 = _to_conv_layout(xn)
        if mode == "infer":
            q, k, v = _attn_infer_qk(cfg, W, li, x4, cos, sin)
        else:
            q = _conv(x4, W.get(p + "self_attn.q_proj.weight"))
            k = _conv(x4, W.get(p + "self_attn.k_proj.weight"))
            v = _conv(x4, W.get(p + "self_attn.v_proj.weight"))
            q = mb.transpose(x=mb.reshape(x=q, shape=[1, nh, D, B]), perm=[0, 1, 3, 2])
            k = mb.transpose(x=mb.reshape(x=k, shape=[1, nkv, D, B]), perm=[0, 1, 3, 2])
            v = mb.reshape(x=v, shape=[1, nkv, D, B])
            if cfg["family"] == "qwen3":
                q = _rmsnorm(q, W.get(p + "self_attn.q_norm.weight"), cfg["eps"], D, 4, None)
                k = _rmsnorm(k, W.get(p + "self_attn.k_norm.weight"), cfg["eps"], D, 4, None)
            q = _rope(cfg, q, cos, sin)
            k = _rope(cfg, k, cos, sin)
            v = mb.transpose(x=v, perm=[0, 1, 3, 2])
        if cache is None:
            cache = mb.read_state(input=state)
        cache = _kv_write(cache, state, k, li, current_pos, pos_end)
        cache = _kv_write(cache, state, v, L + li, current_pos, pos_end)
        Kc = _layer_cache(cfg, cache, li)
        Vc = _layer_cache(cfg, cache, L + li)
        Kt = mb.reshape(x=_gqa_tile(cfg, Kc), shape=[1, -1, S, D])
        Vt = _gqa_tile(cfg, Vc)
        sc = mb.matmul(x=q, y=Kt, transpose_x=False, transpose_y=True)
        sc = mb.mul(x=sc, y=scale)
        sc = mb.add(x=sc, y=causal_mask)
        pr = _softmax(cfg, sc)
        if mode == "infer":
            Vr = mb.reshape(x=Vt, shape=[1, -1, S, D])
            ao = mb.matmul(x=pr, y=Vr, transpose_x=False, transpose_y=False)
        else:
            pr3 = mb.reshape(x=pr, shape=[nh, B, S])
            v3 = mb.reshape(x=Vt, shape=[nh, S, D])
            ao = mb.matmul(x=pr3, y=v3, transpose_x=False, transpose_y=False)
            ao = mb.reshape(x=ao, shape=[1, nh, B, D])
        ao = mb.transpose(x=ao, perm=[0, 2, 1, 3])
        ao = mb.reshape(x=ao, shape=[1, T, nh * D])
        h = mb.add(x=h, y=_o_proj(cfg, W, li, ao, T))
        final_layer = last and n == len(layers) - 1
        if mode == "prefill" and final_layer and cfg["family"] == "llama":
            break  # LLaMA: the model's last layer skips its MLP in prefill
        xn = _rmsnorm(h, W.get(p + "post_attention_layernorm.weight"), cfg["eps"], H, 3, None)
        h = mb.add(x=h, y=_mlp(cfg, W, li, xn))
    if mode == "prefill" and last:
        kw = {"name": out_name} if out_name else {}
        return mb.slice_by_index(x=h, begin=[0, 0, 0], end=[1, 1, H],
                                 end_mask=[True, False, True], **kw)
    if mode == "infer" and last:
        return _rmsnorm(h, W.get("model.norm.weight"), cfg["eps"], H, 3, out_name)
    if out_name:
        h.set_name(out_name)
    return h


def _ffn_specs(cfg, mode, first):
    """Input specs of a chunk function; first = the input is input_ids
    (monolithic) instead of hidden_states."""
    H, C, S = cfg["hidden"], cfg["ctx"], cfg["state"]
    L, nkv, D = cfg["layers"], cfg["kv_heads"], cfg["head_dim"]
    T = 1 if mode == "infer" else cfg["batch"]
    x = mb.TensorSpec((1, T), dtype=I32) if first else mb.TensorSpec((1, T, H), dtype=FP16)
    return [
        x,
        mb.TensorSpec((T,), dtype=I32),
        mb.TensorSpec((1, 1, T, C), dtype=FP16),
        mb.TensorSpec((1,), dtype=I32),
        mb.StateTensorSpec((2 * L, nkv, S, D), dtype=FP16),
    ]


def build_ffn(cfg, w, layers, last, mode):
    """One FFN chunk function. layers: list of layer indices in this chunk.
    last: whether the chunk holds the model's final layer.
    mode: "infer" or "prefill"."""
    cw = _conv_weights(w)

    @mb.program(input_specs=_ffn_specs(cfg, mode, False), opset_version=ct.target.iOS18)
    def prog(hidden_states, position_ids, causal_mask, current_pos, model_model_kv_cache_0):
        return _ffn_body(cfg, cw, layers, last, mode, hidden_states, position_ids,
                         causal_mask, current_pos, model_model_kv_cache_0)

    return prog


def build_monolithic(cfg, w, mode, argmax=False):
    """ANEMLL 0.3.5 monolithic function: embeddings + every layer + head in
    one program. infer: input_ids [1,1] -> logits1..N (or argmax_idx/val);
    prefill: input_ids [1,B] -> the final-normed hidden state of token 0,
    [1,1,H] (a dummy: only the KV-state writes matter)."""
    cw = _conv_weights(w)
    layers = list(range(cfg["layers"]))

    @mb.program(input_specs=_ffn_specs(cfg, mode, True), opset_version=ct.target.iOS18)
    def prog(input_ids, position_ids, causal_mask, current_pos, model_model_kv_cache_0):
        W = Weights(cw)
        h = mb.gather(x=W.get("model.embed_tokens.weight"), indices=input_ids, axis=0,
                      batch_dims=0, validate_indices=False)
        h = _ffn_body(cfg, cw, layers, True, mode, h, position_ids, causal_mask,
                      current_pos, model_model_kv_cache_0, name_output=False)
        if mode == "prefill":
            return _rmsnorm(h, W.get("model.norm.weight"), cfg["eps"], cfg["hidden"], 3,
                            "output_hidden_states")
        return _lm_head_body(cfg, w, h, argmax)

    return prog
