"""Independent NumPy reference for the tiny LLaMA / Qwen3 test models.

Written from the models' textbook definition (RMSNorm, rotary embedding,
grouped-query causal attention, SiLU-gated MLP), not from the MIL programs.
Arithmetic is fp32; values are rounded to fp16 where the model stores fp16:
weights, RoPE tables, the KV cache, and every component's output.

Weights are read back from the fixtures' own weight.bin files (MIL blob
storage v2), decoding LUT-palettized tensors, so the reference uses exactly
the values the models hold.  Only NumPy is needed (Debian's python3-numpy).
"""

import json
import os
import struct

import numpy as np

# ---------------------------------------------------------------------------
# weight.bin decoding
# ---------------------------------------------------------------------------

BLOB_DTYPES = {1: ("fp16", 16), 2: ("fp32", 32), 3: ("uint8", 8), 4: ("int8", 8),
               11: ("uint4", 4), 13: ("uint6", 6), 10: ("uint2", 2), 12: ("uint3", 3),
               9: ("uint1", 1)}


def read_blob(path, offset):
    """Return (dtype_name, bits, raw bytes, padding_bits) of the blob whose
    metadata record sits at `offset`."""
    with open(path, "rb") as f:
        head = f.read(64)
        count, version = struct.unpack_from("<II", head, 0)
        if version != 2:
            raise ValueError("%s: blob storage version %d" % (path, version))
        f.seek(offset)
        md = f.read(64)
        sentinel, code, size, data_off, pad = struct.unpack_from("<IIQQQ", md, 0)
        if sentinel != 0xDEADBEEF:
            raise ValueError("%s@%d: bad sentinel" % (path, offset))
        f.seek(data_off)
        raw = f.read(size)
    name, bits = BLOB_DTYPES[code]
    return name, bits, raw, pad


def unpack_bits(raw, bits, count):
    """LSB-first packed unsigned ints -> uint8 array of `count` values."""
    b = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")
    b = b[: count * bits].reshape(count, bits).astype(np.uint16)
    return (b << np.arange(bits, dtype=np.uint16)).sum(axis=1).astype(np.uint8)


def load_tensor(root, ent):
    """Decode one weight entry of a weights map (see make-test-models)."""
    if ent["kind"] == "blob":
        path = os.path.join(root, ent["file"])
        name, bits, raw, _ = read_blob(path, ent["offset"])
        assert name == "fp16", name
        return np.frombuffer(raw, dtype="<f2").reshape(ent["shape"]).copy()
    if ent["kind"] == "lut":
        path = os.path.join(root, ent["file"])
        iname, ibits, iraw, _ = read_blob(path, ent["indices_offset"])
        shape = ent["shape"]
        n = int(np.prod(shape))
        idx = unpack_bits(iraw, ibits, n).reshape(shape)
        lname, _, lraw, _ = read_blob(path, ent["lut_offset"])
        lut = np.frombuffer(lraw, dtype="<f2").reshape(ent["lut_shape"])
        # lut: [g0, g1, ..., 2^bits, 1]; block size along each axis = dim / g
        out = np.empty(shape, dtype=np.float16)
        blocks = [shape[a] // lut.shape[a] for a in range(len(shape))]
        it = np.ndindex(*lut.shape[:len(shape)])
        for g in it:
            sl = tuple(slice(g[a] * blocks[a], (g[a] + 1) * blocks[a]) for a in range(len(shape)))
            table = lut[g][:, 0]
            out[sl] = table[idx[sl]]
        return out
    raise ValueError(ent["kind"])


def load_weights(map_path, root):
    """Weights map JSON -> dict of fp16 arrays in HF layout ([out, in])."""
    with open(map_path) as f:
        m = json.load(f)
    w = {}
    for key, ent in m["tensors"].items():
        if isinstance(ent, list):  # split LM head: concatenate along vocab
            w[key] = np.concatenate([load_tensor(root, e) for e in ent], axis=0)
        else:
            w[key] = load_tensor(root, ent)
    for key in list(w):
        a = w[key]
        if a.ndim > 2:
            w[key] = a.reshape(a.shape[0], -1)
    return m["config"], w


# ---------------------------------------------------------------------------
# the model, textbook form
# ---------------------------------------------------------------------------

def f16(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16)


class Model:
    def __init__(self, cfg, w):
        self.cfg = cfg
        self.w = {k: v.astype(np.float32) for k, v in w.items()}
        D = cfg["head_dim"]
        n = 2 * max(cfg["ctx"], cfg["state"])
        inv = 1.0 / (cfg["rope_theta"] ** (np.arange(0, D, 2, dtype=np.float32) / D))
        ang = np.outer(np.arange(n, dtype=np.float32), inv)
        ang = np.concatenate([ang, ang], axis=-1)
        # the model stores its rotary tables in fp16
        self.cos = f16(np.cos(ang)).astype(np.float32)
        self.sin = f16(np.sin(ang)).astype(np.float32)

    def new_state(self):
        c = self.cfg
        return np.zeros((2 * c["layers"], c["kv_heads"], c["state"], c["head_dim"]), np.float16)

    # -- pieces --
    def rmsnorm(self, x, w):
        ms = np.mean(x * x, axis=-1, keepdims=True)
        return x / np.sqrt(ms + self.cfg["eps"]) * w

    def rope(self, x, pos):
        """x [..., T, D]; pos [T]."""
        D = self.cfg["head_dim"]
        cos, sin = self.cos[pos], self.sin[pos]
        x1, x2 = x[..., : D // 2], x[..., D // 2:]
        rot = np.concatenate([-x2, x1], axis=-1)
        return x * cos + rot * sin

    def embed(self, ids):
        return f16(self.w["model.embed_tokens.weight"][np.asarray(ids)])[None]

    def layer(self, li, h, pos, write_pos, cache, mlp=True):
        """h [T,H] fp32; pos [T] rotary positions; write_pos: first cache slot.
        Query t attends cache slots 0..write_pos+t (causal)."""
        c, w = self.cfg, self.w
        p = "model.layers.%d." % li
        L, nh, nkv, D = c["layers"], c["heads"], c["kv_heads"], c["head_dim"]
        T = h.shape[0]
        x = self.rmsnorm(h, w[p + "input_layernorm.weight"])
        q = (x @ w[p + "self_attn.q_proj.weight"].T).reshape(T, nh, D).transpose(1, 0, 2)
        k = (x @ w[p + "self_attn.k_proj.weight"].T).reshape(T, nkv, D).transpose(1, 0, 2)
        v = (x @ w[p + "self_attn.v_proj.weight"].T).reshape(T, nkv, D).transpose(1, 0, 2)
        if c["family"] == "qwen3":
            q = self.rmsnorm(q, w[p + "self_attn.q_norm.weight"])
            k = self.rmsnorm(k, w[p + "self_attn.k_norm.weight"])
        q = self.rope(q, pos)
        k = self.rope(k, pos)
        cache[li, :, write_pos:write_pos + T] = f16(k)
        cache[L + li, :, write_pos:write_pos + T] = f16(v)
        n_rep = nh // nkv
        out = np.zeros((nh, T, D), np.float32)
        for hd in range(nh):
            K = cache[li, hd // n_rep].astype(np.float32)
            V = cache[L + li, hd // n_rep].astype(np.float32)
            for t in range(T):
                last = write_pos + t
                s = K[: last + 1] @ q[hd, t] / np.sqrt(D)
                s = np.exp(s - s.max())
                out[hd, t] = (s / s.sum()) @ V[: last + 1]
        attn = out.transpose(1, 0, 2).reshape(T, nh * D)
        h = h + attn @ w[p + "self_attn.o_proj.weight"].T
        if not mlp:
            return h
        x = self.rmsnorm(h, w[p + "post_attention_layernorm.weight"])
        g = x @ w[p + "mlp.gate_proj.weight"].T
        u = x @ w[p + "mlp.up_proj.weight"].T
        a = g / (1.0 + np.exp(-g)) * u
        return h + a @ w[p + "mlp.down_proj.weight"].T

    def chunk(self, layers, last, mode, hidden, position_ids, current_pos, cache):
        """One FFN chunk function as ANEMLL defines it.
        hidden [1,T,H] fp16 -> output fp16; writes `cache` in place.
        infer: RoPE position = current_pos (position_ids is not used).
        prefill: RoPE positions = position_ids, cache slots current_pos.. ."""
        h = hidden[0].astype(np.float32)
        T = h.shape[0]
        if mode == "infer":
            pos = np.array([current_pos] * T)
        else:
            pos = np.asarray(position_ids)
        for n, li in enumerate(layers):
            is_final = last and n == len(layers) - 1
            # ANEMLL LLaMA: the model's last layer skips its MLP in prefill
            mlp = not (mode == "prefill" and is_final and self.cfg["family"] == "llama")
            h = self.layer(li, h, pos, current_pos, cache, mlp=mlp)
        if last and mode == "prefill":
            return f16(h[None, 0:1])     # dummy output: token 0, no final norm
        if last:
            h = self.rmsnorm(h, self.w["model.norm.weight"])
        return f16(h[None])

    def logits(self, hidden):
        """hidden [1,1,H] fp16 -> logits [V] fp16."""
        return f16(hidden[0, 0].astype(np.float32) @ self.w["lm_head.weight"].T)


def causal_mask(C):
    m = np.full((C, C), -np.inf, dtype=np.float32)
    m[np.tril_indices(C)] = 0.0
    return f16(m)[None, None]


def update_mask_fill(before, written, current_pos, update_mask, rows):
    """ANEMLL 0.3.5 static-slice prefill write (ANEMLL.md 4.5): cache rows
    `rows` become before*(1-m) + new*m, m = update_mask[0,0] [S,B], where new
    scatters the batch's K/V (read back from `written`, the same prefill with
    a plain slice write at current_pos) to the positions the mask names."""
    m = np.asarray(update_mask, np.float32)[0, 0]
    B = m.shape[1]
    keep = 1.0 - np.clip(m.sum(axis=1), 0.0, 1.0)
    out = before.copy()
    for r in rows:
        kv = written[r][:, current_pos:current_pos + B].astype(np.float32)   # [Hkv,B,D]
        new = np.einsum("sb,hbd->hsd", m, kv)
        out[r] = f16(before[r].astype(np.float32) * keep[None, :, None] + new)
    return out


def chunk_layers(L, n_chunks):
    """ANEMLL splits layers evenly: chunk i gets layers [i*L/n, (i+1)*L/n)."""
    per = L // n_chunks
    return [list(range(i * per, L if i == n_chunks - 1 else (i + 1) * per))
            for i in range(n_chunks)]


def run_greedy(model, prompt, n_new, n_chunks=1, cache=None, keep_logits=0):
    """A full ANEMLL 0.3.4 run: batched prefill (right-padded with id 0), then
    decode steps that re-feed the last token (ANEMLL.md 3.3-3.5).
    Returns (new ids, per-step top-1 margins, logits of the first
    `keep_logits` steps, final state)."""
    c = model.cfg
    B = c["batch"]
    chunks = chunk_layers(c["layers"], n_chunks)
    cache = model.new_state() if cache is None else cache
    toks = list(prompt)
    ctx = len(toks)
    bp = 0
    while bp < ctx:
        end = min(bp + B, ctx)
        ids = toks[bp:end] + [0] * (B - (end - bp))
        h = model.embed(ids)
        for i, layers in enumerate(chunks):
            h = model.chunk(layers, i == len(chunks) - 1, "prefill", h,
                            np.arange(bp, bp + B), bp, cache)
        bp = end
    new, margins, kept = [], [], []
    pos = ctx
    for step in range(n_new):
        h = model.embed([toks[pos - 1]])
        for i, layers in enumerate(chunks):
            h = model.chunk(layers, i == len(chunks) - 1, "infer", h,
                            [pos - 1], pos - 1, cache)
        lg = model.logits(h).astype(np.float32)
        order = np.argsort(-lg, kind="stable")
        nxt = int(order[0])
        margins.append(float(lg[order[0]] - lg[order[1]]))
        if step < keep_logits:
            kept.append(f16(lg))
        toks.append(nxt)
        new.append(nxt)
        pos += 1
    return new, margins, kept, cache
