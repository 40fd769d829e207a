// spm_shim.cc — the C API of tok_internal.h over libsentencepiece. No exception or C++
// type crosses this file: every failure becomes an an_error message.
#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

extern "C" {
#include "tok_internal.h"
}

struct tok_spm {
    sentencepiece::SentencePieceProcessor sp;
};

extern "C" struct tok_spm *tok_spm_load(const char *path, an_error *err)
{
    tok_spm *s = new (std::nothrow) tok_spm;
    if (!s) {
        an_errorf(err, "%s: out of memory", path);
        return nullptr;
    }
    try {
        auto st = s->sp.Load(path);
        if (!st.ok()) {
            an_errorf(err, "%s: not a sentencepiece model: %s", path, st.ToString().c_str());
            delete s;
            return nullptr;
        }
    } catch (const std::exception &e) {
        an_errorf(err, "%s: not a sentencepiece model: %s", path, e.what());
        delete s;
        return nullptr;
    }
    return s;
}

extern "C" void tok_spm_free(struct tok_spm *s) { delete s; }

extern "C" int tok_spm_encode(struct tok_spm *s, const char *text, size_t len, int32_t **ids,
                              size_t *n, an_error *err)
{
    *ids = nullptr;
    *n = 0;
    try {
        std::vector<int> v;
        auto st = s->sp.Encode(std::string(text, len), &v);
        if (!st.ok())
            return an_errorf(err, "sentencepiece: %s", st.ToString().c_str());
        int32_t *out = static_cast<int32_t *>(malloc((v.size() ? v.size() : 1) * sizeof(int32_t)));
        if (!out)
            return an_errorf(err, "sentencepiece: out of memory");
        for (size_t i = 0; i < v.size(); i++)
            out[i] = v[i];
        *ids = out;
        *n = v.size();
        return 0;
    } catch (const std::exception &e) {
        return an_errorf(err, "sentencepiece: %s", e.what());
    }
}

extern "C" int tok_spm_decode(struct tok_spm *s, const int32_t *ids, size_t n, an_strbuf *out,
                              an_error *err)
{
    try {
        std::vector<int> v;
        int size = s->sp.GetPieceSize();
        for (size_t i = 0; i < n; i++)
            if (ids[i] >= 0 && ids[i] < size) // sentencepiece rejects out-of-range ids
                v.push_back(ids[i]);
        std::string text;
        auto st = s->sp.Decode(v, &text);
        if (!st.ok())
            return an_errorf(err, "sentencepiece: %s", st.ToString().c_str());
        if (an_sb_append(out, text.data(), text.size()))
            return an_errorf(err, "sentencepiece: out of memory");
        return 0;
    } catch (const std::exception &e) {
        return an_errorf(err, "sentencepiece: %s", e.what());
    }
}

extern "C" size_t tok_spm_size(const struct tok_spm *s)
{
    return static_cast<size_t>(s->sp.GetPieceSize());
}

extern "C" const char *tok_spm_piece(const struct tok_spm *s, int32_t id)
{
    if (id < 0 || id >= s->sp.GetPieceSize())
        return nullptr;
    return s->sp.IdToPiece(id).c_str();
}

extern "C" int32_t tok_spm_piece_id(const struct tok_spm *s, const char *piece)
{
    int id = s->sp.PieceToId(piece);
    // PieceToId answers unk_id for unknown pieces: only an exact match counts
    if (id < 0 || s->sp.IdToPiece(id) != piece)
        return -1;
    return id;
}

extern "C" int32_t tok_spm_bos(const struct tok_spm *s) { return s->sp.bos_id(); }
extern "C" int32_t tok_spm_eos(const struct tok_spm *s) { return s->sp.eos_id(); }

extern "C" int tok_spm_is_control(const struct tok_spm *s, int32_t id)
{
    return id >= 0 && id < s->sp.GetPieceSize() && s->sp.IsControl(id);
}
