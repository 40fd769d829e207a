/*
 * tok_load.c — tokenizer.json → tok_tokenizer (json-c).
 *
 * Follows the serde layout of HF `tokenizers` (tokenizer/serialization.rs and the
 * component modules). Every component type this file does not know is an error that names
 * the type and where it sits, never a silent mis-tokenization.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* Bounds on sizes read from the file, so a hostile file cannot ask for huge tables. */
#define MAX_ID (1 << 24)

typedef struct ctx {
    tok_tokenizer *tok;
    const char *name;
    an_error *err;
    int64_t max_id;
    an_strbuf scratch;
    /* when model.vocab / model.merges were cut out for tok_jscan: where they are */
    const char *doc;
    tok_jspan vocab, merges;
    int fast;
} ctx;

static int fail(ctx *c, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(ctx *c, const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    an_verrorf(c->err, fmt, ap);
    va_end(ap);
    return an_error_prefix(c->err, "%s: %s", c->name, where);
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return json_object_is_type(v, json_type_null) ? NULL : v;
}

static int get_bool(json_object *o, const char *key, int dflt)
{
    json_object *v = get(o, key);
    return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : dflt;
}

static const char *get_str(json_object *o, const char *key, size_t *len)
{
    json_object *v = get(o, key);
    if (!v || !json_object_is_type(v, json_type_string))
        return NULL;
    if (len)
        *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

static int get_type(ctx *c, json_object *o, const char *where, const char **type)
{
    if (!json_object_is_type(o, json_type_object))
        return fail(c, where, "expected an object");
    *type = get_str(o, "type", NULL);
    if (!*type)
        return fail(c, where, "no \"type\"");
    return 0;
}

/* Text copied from the file; it must be valid UTF-8, as every later stage assumes. */
static int arena_str(ctx *c, const char *s, size_t n, tok_str *out)
{
    if (!tok_utf8_valid(s, n))
        return an_errorf(c->err, "%s: a string is not valid UTF-8", c->name);
    char *p = an_arena_strndup(&c->tok->arena, s, n);
    if (!p)
        return an_errorf(c->err, "%s: out of memory", c->name);
    out->s = p;
    out->n = n;
    return 0;
}

/* First character of a one-character string field (Metaspace replacement, Strip content). */
static int get_char(ctx *c, json_object *o, const char *key, uint32_t dflt, const char *where,
                    uint32_t *out)
{
    size_t n;
    const char *s = get_str(o, key, &n);
    if (!s) {
        *out = dflt;
        return 0;
    }
    if (n == 0 || !tok_utf8_valid(s, n))
        return fail(c, where, "\"%s\" is not one character", key);
    int k = tok_utf8_next(s, n, out);
    if ((size_t)k != n)
        return fail(c, where, "\"%s\" is not one character", key);
    return 0;
}

static int parse_pattern(ctx *c, json_object *o, const char *where, tok_pattern *p)
{
    memset(p, 0, sizeof *p);
    size_t n;
    const char *s;
    if ((s = get_str(o, "String", &n))) {
        if (!tok_utf8_valid(s, n))
            return fail(c, where, "the pattern is not valid UTF-8");
        p->lit = an_arena_memdup(&c->tok->arena, s, n + 1);
        p->lit_len = n;
        return p->lit ? 0 : an_errorf(c->err, "%s: out of memory", c->name);
    }
    if ((s = get_str(o, "Regex", &n))) {
        an_error e;
        an_error_clear(&e);
        p->re = tok_regex_compile(s, n, &e);
        if (!p->re)
            return fail(c, where, "%s", e.msg);
        if (tok_keep_regex(c->tok, p->re)) {
            pcre2_code_free(p->re);
            return an_errorf(c->err, "%s: out of memory", c->name);
        }
        return 0;
    }
    return fail(c, where, "\"pattern\" is neither {\"String\": ...} nor {\"Regex\": ...}");
}

static int parse_behavior(ctx *c, json_object *o, const char *where, enum tok_behavior dflt,
                          enum tok_behavior *b)
{
    const char *s = get_str(o, "behavior", NULL);
    static const struct { const char *name; enum tok_behavior b; } tab[] = {
        {"Removed", TOK_B_REMOVED}, {"Isolated", TOK_B_ISOLATED},
        {"MergedWithPrevious", TOK_B_MERGED_PREV}, {"MergedWithNext", TOK_B_MERGED_NEXT},
        {"Contiguous", TOK_B_CONTIGUOUS}};
    if (!s) {
        *b = dflt;
        return 0;
    }
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(s, tab[i].name)) {
            *b = tab[i].b;
            return 0;
        }
    return fail(c, where, "unknown split behavior '%s'", s);
}

static int parse_prepend(ctx *c, json_object *o, const char *where, enum tok_prepend *p)
{
    const char *s = get_str(o, "prepend_scheme", NULL);
    if (!s) {
        *p = get_bool(o, "add_prefix_space", 1) ? TOK_PREPEND_ALWAYS : TOK_PREPEND_NEVER;
        return 0;
    }
    if (!strcmp(s, "always"))
        *p = TOK_PREPEND_ALWAYS;
    else if (!strcmp(s, "first"))
        *p = TOK_PREPEND_FIRST;
    else if (!strcmp(s, "never"))
        *p = TOK_PREPEND_NEVER;
    else
        return fail(c, where, "unknown prepend_scheme '%s'", s);
    return 0;
}

/* Parse an array member into an arena array of component pointers via fn. */
#define PARSE_LIST(c, o, key, where, T, fn, items, n_items)                                  \
    do {                                                                                     \
        json_object *arr_ = get(o, key);                                                     \
        if (!arr_ || !json_object_is_type(arr_, json_type_array))                            \
            return fail(c, where, "\"%s\" is not an array", key);                            \
        size_t n_ = json_object_array_length(arr_);                                          \
        items = an_arena_calloc(&(c)->tok->arena, n_ ? n_ : 1, sizeof(T *));                 \
        if (!items)                                                                          \
            return an_errorf((c)->err, "%s: out of memory", (c)->name);                      \
        for (size_t i_ = 0; i_ < n_; i_++) {                                                 \
            char w_[160];                                                                    \
            snprintf(w_, sizeof w_, "%s.%s[%zu]", where, key, i_);                           \
            if (fn(c, json_object_array_get_idx(arr_, i_), w_, &(items)[i_]))                \
                return -1;                                                                   \
        }                                                                                    \
        n_items = n_;                                                                        \
    } while (0)

static void *alloc_component(ctx *c, size_t size)
{
    void *p = an_arena_alloc(&c->tok->arena, size);
    if (!p)
        an_errorf(c->err, "%s: out of memory", c->name);
    return p;
}

static int parse_normalizer(ctx *c, json_object *o, const char *where, tok_normalizer **out)
{
    const char *type;
    if (get_type(c, o, where, &type))
        return -1;
    tok_normalizer *n = alloc_component(c, sizeof *n);
    if (!n)
        return -1;
    *out = n;
    size_t len;
    const char *s;
    if (!strcmp(type, "NFC"))
        n->type = TOK_N_NFC;
    else if (!strcmp(type, "NFD"))
        n->type = TOK_N_NFD;
    else if (!strcmp(type, "NFKC"))
        n->type = TOK_N_NFKC;
    else if (!strcmp(type, "NFKD"))
        n->type = TOK_N_NFKD;
    else if (!strcmp(type, "Lowercase"))
        n->type = TOK_N_LOWERCASE;
    else if (!strcmp(type, "Strip")) {
        n->type = TOK_N_STRIP;
        n->left = get_bool(o, "strip_left", 1);
        n->right = get_bool(o, "strip_right", 1);
    } else if (!strcmp(type, "Prepend")) {
        n->type = TOK_N_PREPEND;
        if (!(s = get_str(o, "prepend", &len)))
            return fail(c, where, "Prepend without \"prepend\"");
        return arena_str(c, s, len, &n->content);
    } else if (!strcmp(type, "Replace")) {
        n->type = TOK_N_REPLACE;
        if (!(s = get_str(o, "content", &len)))
            return fail(c, where, "Replace without \"content\"");
        if (arena_str(c, s, len, &n->content))
            return -1;
        json_object *p = get(o, "pattern");
        if (!p)
            return fail(c, where, "Replace without \"pattern\"");
        return parse_pattern(c, p, where, &n->pat);
    } else if (!strcmp(type, "Sequence")) {
        n->type = TOK_N_SEQUENCE;
        PARSE_LIST(c, o, "normalizers", where, tok_normalizer, parse_normalizer, n->items,
                   n->n_items);
    } else
        return fail(c, where, "unsupported normalizer type '%s'", type);
    return 0;
}

#define GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define WORD_CLASS "\\p{L}\\p{M}\\p{Nd}\\p{Pc}"
#define WHITESPACE_REGEX "[" WORD_CLASS "]+|[^" WORD_CLASS "\\s]+"

static int builtin_regex(ctx *c, const char *src, const char *where, tok_pattern *p)
{
    memset(p, 0, sizeof *p);
    an_error e;
    an_error_clear(&e);
    p->re = tok_regex_compile(src, strlen(src), &e);
    if (!p->re)
        return fail(c, where, "%s", e.msg);
    if (tok_keep_regex(c->tok, p->re)) {
        pcre2_code_free(p->re);
        return an_errorf(c->err, "%s: out of memory", c->name);
    }
    return 0;
}

static int parse_pretok(ctx *c, json_object *o, const char *where, tok_pretok **out)
{
    const char *type;
    if (get_type(c, o, where, &type))
        return -1;
    tok_pretok *p = alloc_component(c, sizeof *p);
    if (!p)
        return -1;
    *out = p;
    if (!strcmp(type, "Split")) {
        p->type = TOK_P_SPLIT;
        json_object *pat = get(o, "pattern");
        if (!pat)
            return fail(c, where, "Split without \"pattern\"");
        p->invert = get_bool(o, "invert", 0);
        return parse_pattern(c, pat, where, &p->pat) ||
               parse_behavior(c, o, where, TOK_B_ISOLATED, &p->behavior);
    }
    if (!strcmp(type, "ByteLevel")) {
        p->type = TOK_P_BYTELEVEL;
        p->add_prefix_space = get_bool(o, "add_prefix_space", 1);
        p->use_regex = get_bool(o, "use_regex", 1);
        return p->use_regex ? builtin_regex(c, GPT2_REGEX, where, &p->pat) : 0;
    }
    if (!strcmp(type, "Metaspace")) {
        p->type = TOK_P_METASPACE;
        p->split = get_bool(o, "split", 1);
        return get_char(c, o, "replacement", 0x2581, where, &p->replacement) ||
               parse_prepend(c, o, where, &p->prepend);
    }
    if (!strcmp(type, "Digits")) {
        p->type = TOK_P_DIGITS;
        p->individual_digits = get_bool(o, "individual_digits", 0);
        return 0;
    }
    if (!strcmp(type, "Punctuation")) {
        p->type = TOK_P_PUNCTUATION;
        return parse_behavior(c, o, where, TOK_B_ISOLATED, &p->behavior);
    }
    if (!strcmp(type, "Whitespace")) {
        p->type = TOK_P_WHITESPACE;
        return builtin_regex(c, WHITESPACE_REGEX, where, &p->pat);
    }
    if (!strcmp(type, "WhitespaceSplit")) {
        p->type = TOK_P_WHITESPACE_SPLIT;
        return 0;
    }
    if (!strcmp(type, "BertPreTokenizer")) {
        p->type = TOK_P_BERT;
        return 0;
    }
    if (!strcmp(type, "Sequence")) {
        p->type = TOK_P_SEQUENCE;
        PARSE_LIST(c, o, "pretokenizers", where, tok_pretok, parse_pretok, p->items, p->n_items);
        return 0;
    }
    return fail(c, where, "unsupported pre-tokenizer type '%s'", type);
}

static int parse_decoder(ctx *c, json_object *o, const char *where, tok_decoder **out)
{
    const char *type;
    if (get_type(c, o, where, &type))
        return -1;
    tok_decoder *d = alloc_component(c, sizeof *d);
    if (!d)
        return -1;
    *out = d;
    size_t len;
    const char *s;
    if (!strcmp(type, "ByteLevel"))
        d->type = TOK_D_BYTELEVEL;
    else if (!strcmp(type, "ByteFallback"))
        d->type = TOK_D_BYTEFALLBACK;
    else if (!strcmp(type, "Fuse"))
        d->type = TOK_D_FUSE;
    else if (!strcmp(type, "Metaspace")) {
        d->type = TOK_D_METASPACE;
        return get_char(c, o, "replacement", 0x2581, where, &d->ch) ||
               parse_prepend(c, o, where, &d->prepend);
    } else if (!strcmp(type, "Replace")) {
        d->type = TOK_D_REPLACE;
        json_object *p = get(o, "pattern");
        if (!(s = get_str(o, "content", &len)) || !p)
            return fail(c, where, "Replace needs \"pattern\" and \"content\"");
        return arena_str(c, s, len, &d->content) || parse_pattern(c, p, where, &d->pat);
    } else if (!strcmp(type, "Strip")) {
        d->type = TOK_D_STRIP;
        json_object *a = get(o, "start"), *b = get(o, "stop");
        int64_t va = a ? json_object_get_int64(a) : 0, vb = b ? json_object_get_int64(b) : 0;
        if (va < 0 || vb < 0 || va > 1 << 20 || vb > 1 << 20)
            return fail(c, where, "Strip start/stop out of range");
        d->start = (size_t)va;
        d->stop = (size_t)vb;
        return get_char(c, o, "content", ' ', where, &d->ch);
    } else if (!strcmp(type, "BPEDecoder")) {
        d->type = TOK_D_BPE;
        s = get_str(o, "suffix", &len);
        return arena_str(c, s ? s : "</w>", s ? len : 4, &d->content);
    } else if (!strcmp(type, "Sequence")) {
        d->type = TOK_D_SEQUENCE;
        PARSE_LIST(c, o, "decoders", where, tok_decoder, parse_decoder, d->items, d->n_items);
    } else
        return fail(c, where, "unsupported decoder type '%s'", type);
    return 0;
}

static int ids_of_special(ctx *c, json_object *specials, const char *name, const char *where,
                          int32_t **ids, size_t *n)
{
    json_object *sp = get(specials, name), *arr = get(sp, "ids");
    if (!arr || !json_object_is_type(arr, json_type_array))
        return fail(c, where, "special token '%s' has no \"ids\"", name);
    size_t k = json_object_array_length(arr);
    int32_t *nv = an_arena_calloc(&c->tok->arena, *n + k + 1, sizeof *nv);
    if (!nv)
        return an_errorf(c->err, "%s: out of memory", c->name);
    if (*n)
        memcpy(nv, *ids, *n * sizeof *nv);
    for (size_t i = 0; i < k; i++) {
        int64_t v = json_object_get_int64(json_object_array_get_idx(arr, i));
        if (v < 0 || v >= MAX_ID)
            return fail(c, where, "special token '%s' has an id out of range", name);
        nv[(*n)++] = (int32_t)v;
    }
    *ids = nv;
    return 0;
}

static int cls_sep(ctx *c, json_object *o, const char *key, const char *where, int32_t **ids,
                   size_t *n)
{
    json_object *a = get(o, key);
    if (!a || !json_object_is_type(a, json_type_array) || json_object_array_length(a) != 2)
        return fail(c, where, "\"%s\" is not [token, id]", key);
    int64_t v = json_object_get_int64(json_object_array_get_idx(a, 1));
    if (v < 0 || v >= MAX_ID)
        return fail(c, where, "\"%s\" id out of range", key);
    if (!(*ids = an_arena_alloc(&c->tok->arena, sizeof **ids)))
        return an_errorf(c->err, "%s: out of memory", c->name);
    **ids = (int32_t)v;
    *n = 1;
    return 0;
}

static int parse_post(ctx *c, json_object *o, const char *where, tok_post **out)
{
    const char *type;
    if (get_type(c, o, where, &type))
        return -1;
    tok_post *p = alloc_component(c, sizeof *p);
    if (!p)
        return -1;
    *out = p;
    if (!strcmp(type, "ByteLevel")) {
        p->type = TOK_PP_BYTELEVEL; /* offsets only: ids are unchanged */
        return 0;
    }
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        p->type = TOK_PP_CLS_SEP;
        return cls_sep(c, o, "cls", where, &p->before, &p->n_before) ||
               cls_sep(c, o, "sep", where, &p->after, &p->n_after);
    }
    if (!strcmp(type, "Sequence")) {
        p->type = TOK_PP_SEQUENCE;
        PARSE_LIST(c, o, "processors", where, tok_post, parse_post, p->items, p->n_items);
        return 0;
    }
    if (strcmp(type, "TemplateProcessing"))
        return fail(c, where, "unsupported post-processor type '%s'", type);
    p->type = TOK_PP_TEMPLATE;
    json_object *single = get(o, "single"), *specials = get(o, "special_tokens");
    if (!single || !json_object_is_type(single, json_type_array))
        return fail(c, where, "TemplateProcessing without a \"single\" list");
    int seen_seq = 0;
    for (size_t i = 0; i < json_object_array_length(single); i++) {
        json_object *it = json_object_array_get_idx(single, i), *st;
        if (get(it, "Sequence")) {
            if (seen_seq)
                return fail(c, where, "\"single\" holds the sequence twice");
            seen_seq = 1;
        } else if ((st = get(it, "SpecialToken"))) {
            const char *name = get_str(st, "id", NULL);
            if (!name)
                return fail(c, where, "a SpecialToken without \"id\"");
            if (seen_seq ? ids_of_special(c, specials, name, where, &p->after, &p->n_after)
                         : ids_of_special(c, specials, name, where, &p->before, &p->n_before))
                return -1;
        } else
            return fail(c, where, "unknown template piece in \"single\"");
    }
    return 0;
}

int tok_keep_regex(tok_tokenizer *tok, pcre2_code *re)
{
    if (tok->n_regexes == tok->cap_regexes) {
        size_t nc = tok->cap_regexes ? tok->cap_regexes * 2 : 8;
        pcre2_code **nv = realloc(tok->regexes, nc * sizeof *nv);
        if (!nv)
            return -1;
        tok->regexes = nv;
        tok->cap_regexes = nc;
    }
    tok->regexes[tok->n_regexes++] = re;
    return 0;
}


/* ---- the model and the added tokens ---- */

static int32_t vocab_id(ctx *c, const char *s, size_t n)
{
    return tok_strmap_get(&c->tok->bpe.vocab, s, n);
}

/* One merge, rank `r`: a and b must be tokens, and so must their concatenation (with the
 * right part's continuing-subword prefix dropped). */
static int merge_entry(void *ud, size_t r, const char *a, size_t la, const char *b, size_t lb)
{
    ctx *c = ud;
    tok_bpe *m = &c->tok->bpe;
    if (r >= INT32_MAX)
        return an_errorf(c->err, "%s: model.merges: too many merges", c->name);
    int32_t ia = vocab_id(c, a, la), ib = vocab_id(c, b, lb);
    size_t skip = m->prefix.n && lb >= m->prefix.n && !memcmp(b, m->prefix.s, m->prefix.n)
                      ? m->prefix.n : 0;
    an_sb_clear(&c->scratch);
    if (an_sb_append(&c->scratch, a, la) || an_sb_append(&c->scratch, b + skip, lb - skip))
        return an_errorf(c->err, "%s: out of memory", c->name);
    int32_t im = vocab_id(c, c->scratch.buf, c->scratch.len);
    if (ia < 0 || ib < 0 || im < 0)
        return an_errorf(c->err, "%s: model.merges[%zu]: token '%.100s' is not in the vocabulary",
                         c->name, r, ia < 0 ? a : ib < 0 ? b : c->scratch.buf);
    if (tok_pairmap_put(&m->merges, ia, ib, (int32_t)r, im))
        return an_errorf(c->err, "%s: out of memory", c->name);
    return 0;
}

static int parse_merges(ctx *c, json_object *merges)
{
    size_t n = json_object_array_length(merges);
    for (size_t r = 0; r < n; r++) {
        json_object *it = json_object_array_get_idx(merges, r);
        if (json_object_is_type(it, json_type_string)) {
            const char *a = json_object_get_string(it);
            size_t len = (size_t)json_object_get_string_len(it);
            const char *sp = memchr(a, ' ', len);
            if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - a)))
                return an_errorf(c->err, "%s: model.merges[%zu]: not \"a b\"", c->name, r);
            if (merge_entry(c, r, a, (size_t)(sp - a), sp + 1, len - (size_t)(sp - a) - 1))
                return -1;
        } else if (json_object_is_type(it, json_type_array) && json_object_array_length(it) == 2 &&
                   json_object_is_type(json_object_array_get_idx(it, 0), json_type_string) &&
                   json_object_is_type(json_object_array_get_idx(it, 1), json_type_string)) {
            json_object *x = json_object_array_get_idx(it, 0), *y = json_object_array_get_idx(it, 1);
            if (merge_entry(c, r, json_object_get_string(x), (size_t)json_object_get_string_len(x),
                            json_object_get_string(y), (size_t)json_object_get_string_len(y)))
                return -1;
        } else
            return an_errorf(c->err, "%s: model.merges[%zu]: neither \"a b\" nor [a, b]", c->name, r);
    }
    return 0;
}

static int vocab_entry(void *ud, const char *key, size_t len, int64_t id)
{
    ctx *c = ud;
    if (id < 0 || id >= MAX_ID)
        return an_errorf(c->err, "%s: model.vocab: token '%.100s' has no valid id", c->name, key);
    if (len > UINT32_MAX)
        return an_errorf(c->err, "%s: model.vocab: a token is too long", c->name);
    char *k = an_arena_memdup(&c->tok->arena, key, len + 1);
    if (!k || tok_strmap_put(&c->tok->bpe.vocab, k, (uint32_t)len, (int32_t)id))
        return an_errorf(c->err, "%s: out of memory", c->name);
    if (!tok_utf8_valid(key, len))
        return an_errorf(c->err, "%s: model.vocab: a token is not valid UTF-8", c->name);
    if (id > c->max_id)
        c->max_id = id;
    return 0;
}

static int parse_model(ctx *c, json_object *o)
{
    tok_tokenizer *tok = c->tok;
    tok_bpe *m = &tok->bpe;
    const char *type = get_str(o, "type", NULL);
    if (!json_object_is_type(o, json_type_object))
        return fail(c, "model", "expected an object");
    if (type && strcmp(type, "BPE"))
        return fail(c, "model", "unsupported model type '%s' (only BPE is supported)", type);
    json_object *vocab = get(o, "vocab"), *merges = get(o, "merges");
    if (!vocab || !json_object_is_type(vocab, json_type_object))
        return fail(c, "model", "\"vocab\" is not an object");
    if (!merges || !json_object_is_type(merges, json_type_array))
        return fail(c, "model", "\"merges\" is not an array");
    if (get(o, "dropout") && json_object_get_double(get(o, "dropout")) > 0)
        return fail(c, "model", "BPE dropout is not supported");
    size_t n;
    const char *s;
    if ((s = get_str(o, "continuing_subword_prefix", &n)) && arena_str(c, s, n, &m->prefix))
        return -1;
    if ((s = get_str(o, "end_of_word_suffix", &n)) && arena_str(c, s, n, &m->suffix))
        return -1;
    m->fuse_unk = get_bool(o, "fuse_unk", 0);
    m->byte_fallback = get_bool(o, "byte_fallback", 0);
    m->ignore_merges = get_bool(o, "ignore_merges", 0);
    if (c->fast) {
        /* a vocabulary entry takes at least 8 bytes of JSON ("x": 1,), ~20 on average:
         * sizing the table from the text saves rehashing 150 000 entries several times */
        tok_strmap_reserve(&m->vocab, (c->vocab.end - c->vocab.start) / 16);
        tok_pairmap_reserve(&m->merges, (c->merges.end - c->merges.start) / 16);
        an_error_clear(c->err);
        if (tok_jscan_vocab(c->doc + c->vocab.start, c->vocab.end - c->vocab.start, vocab_entry, c))
            return an_error_isset(c->err) ? -1
                   : fail(c, "model.vocab", "not an object of token strings to integer ids");
    } else {
        json_object_object_foreach(vocab, key, val)
        {
            if (!json_object_is_type(val, json_type_int))
                return fail(c, "model.vocab", "token '%.100s' has no valid id", key);
            if (vocab_entry(c, key, strlen(key), json_object_get_int64(val)))
                return -1;
        }
    }
    m->unk_id = -1;
    if ((s = get_str(o, "unk_token", &n)))
        m->unk_id = vocab_id(c, s, n);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = vocab_id(c, name, 6);
    }
    if (!c->fast)
        return parse_merges(c, merges);
    an_error_clear(c->err);
    if (tok_jscan_merges(c->doc + c->merges.start, c->merges.end - c->merges.start, merge_entry, c))
        return an_error_isset(c->err) ? -1
               : fail(c, "model.merges", "not a list of \"a b\" strings or [a, b] pairs");
    return 0;
}

static int parse_added(ctx *c, json_object *arr)
{
    tok_tokenizer *tok = c->tok;
    if (!arr)
        return 0;
    if (!json_object_is_type(arr, json_type_array))
        return fail(c, "added_tokens", "not an array");
    size_t n = json_object_array_length(arr);
    tok->added = an_arena_calloc(&tok->arena, n ? n : 1, sizeof *tok->added);
    if (!tok->added)
        return an_errorf(c->err, "%s: out of memory", c->name);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(arr, i), *idv = get(o, "id");
        size_t len;
        const char *s = get_str(o, "content", &len);
        int64_t id = idv ? json_object_get_int64(idv) : -1;
        if (!s || !idv || !json_object_is_type(idv, json_type_int) || id < 0 || id >= MAX_ID) {
            char w[64];
            snprintf(w, sizeof w, "added_tokens[%zu]", i);
            return fail(c, w, "needs a \"content\" string and a valid \"id\"");
        }
        tok_added *a = &tok->added[tok->n_added++];
        if (arena_str(c, s, len, &a->content))
            return -1;
        a->matched = a->content;
        a->id = (int32_t)id;
        a->special = get_bool(o, "special", 0);
        a->lstrip = get_bool(o, "lstrip", 0);
        a->rstrip = get_bool(o, "rstrip", 0);
        a->single_word = get_bool(o, "single_word", 0);
        a->normalized = get_bool(o, "normalized", !a->special);
        if (tok_strmap_put(&tok->added_map, a->content.s, (uint32_t)len, a->id))
            return an_errorf(c->err, "%s: out of memory", c->name);
        if (id > c->max_id)
            c->max_id = id;
    }
    return 0;
}

static void set_id(void *ud, const char *key, uint32_t len, int32_t id)
{
    tok_tokenizer *tok = ud;
    tok->id_to_token[id] = (char *)key;
    tok->id_len[id] = len;
}

/* The id → token table over the vocabulary and the added tokens; added tokens win. */
static int build_id_table(ctx *c, int64_t max_id)
{
    tok_tokenizer *tok = c->tok;
    size_t n = (size_t)(max_id + 1);
    if (n > 2 * (tok->bpe.vocab.count + tok->n_added) + 65536)
        return fail(c, "model.vocab", "ids are too sparse (largest id %lld)", (long long)max_id);
    tok->n_ids = n;
    tok->id_to_token = an_arena_calloc(&tok->arena, n ? n : 1, sizeof *tok->id_to_token);
    tok->id_len = an_arena_calloc(&tok->arena, n ? n : 1, sizeof *tok->id_len);
    tok->id_special = an_arena_calloc(&tok->arena, n ? n : 1, 1);
    tok->id_added = an_arena_calloc(&tok->arena, n ? n : 1, 1);
    if (!tok->id_to_token || !tok->id_len || !tok->id_special || !tok->id_added)
        return an_errorf(c->err, "%s: out of memory", c->name);
    tok_strmap_each(&tok->bpe.vocab, set_id, tok);
    for (size_t i = 0; i < tok->n_added; i++) {
        const tok_added *a = &tok->added[i];
        tok->id_to_token[a->id] = (char *)a->content.s;
        tok->id_len[a->id] = (uint32_t)a->content.n;
        tok->id_added[a->id] = 1;
        tok->id_special[a->id] = (unsigned char)a->special;
    }
    return 0;
}

/* Added tokens with normalized=true are searched for in their normalized form. */
static int prepare_added(ctx *c)
{
    tok_tokenizer *tok = c->tok;
    an_strbuf sb;
    an_sb_init(&sb);
    for (size_t i = 0; i < tok->n_added; i++) {
        tok_added *a = &tok->added[i];
        if (a->normalized && tok->normalizer) {
            an_sb_clear(&sb);
            if (tok_normalize(tok, tok->normalizer, a->content.s, a->content.n, &sb) ||
                arena_str(c, sb.buf, sb.len, &a->matched)) {
                an_sb_free(&sb);
                return an_errorf(c->err, "%s: out of memory", c->name);
            }
        }
        if (a->matched.n == 0)
            continue; /* an empty token never matches */
        if (tok_trie_add(a->normalized ? &tok->trie_norm : &tok->trie_raw, a->matched.s,
                         a->matched.n, (int32_t)i)) {
            an_sb_free(&sb);
            return an_errorf(c->err, "%s: out of memory", c->name);
        }
    }
    an_sb_free(&sb);
    return 0;
}

int tok_parse_json(tok_tokenizer *tok, const char *data, size_t len, const char *name,
                   an_error *err)
{
    ctx c = {.tok = tok, .name = name, .err = err, .max_id = -1, .doc = data};
    an_sb_init(&c.scratch);
    if (len > INT32_MAX)
        return an_errorf(err, "%s: too large for a tokenizer.json", name);
    /* json-c reads the document without the vocabulary and merges, tok_jscan those */
    an_strbuf reduced;
    an_sb_init(&reduced);
    if (tok_jscan_locate(data, len, &c.vocab, &c.merges) == 0) {
        const tok_jspan *first = c.vocab.start < c.merges.start ? &c.vocab : &c.merges;
        const tok_jspan *second = first == &c.vocab ? &c.merges : &c.vocab;
        if (an_sb_append(&reduced, data, first->start) ||
            an_sb_puts(&reduced, first == &c.vocab ? "{}" : "[]") ||
            an_sb_append(&reduced, data + first->end, second->start - first->end) ||
            an_sb_puts(&reduced, second == &c.vocab ? "{}" : "[]") ||
            an_sb_append(&reduced, data + second->end, len - second->end)) {
            an_sb_free(&reduced);
            return an_errorf(err, "%s: out of memory", name);
        }
        c.fast = 1;
    }
    json_tokener *tk = json_tokener_new_ex(64);
    if (!tk) {
        an_sb_free(&reduced);
        return an_errorf(err, "%s: out of memory", name);
    }
    const char *text = c.fast ? reduced.buf : data;
    size_t total = c.fast ? reduced.len : len;
    json_object *root = json_tokener_parse_ex(tk, text, (int)total);
    enum json_tokener_error jerr = json_tokener_get_error(tk);
    if (root && jerr == json_tokener_success) {
        size_t used = json_tokener_get_parse_end(tk);
        while (used < total && strchr(" \t\r\n", text[used]))
            used++;
        if (used < total) { /* json-c stops after the first value */
            an_sb_free(&reduced);
            json_object_put(root);
            json_tokener_free(tk);
            return an_errorf(err, "%s: not valid JSON: text after the end of the document", name);
        }
    }
    an_sb_free(&reduced);
    if (!root || jerr != json_tokener_success) {
        if (jerr == json_tokener_continue)
            an_errorf(err, "%s: not valid JSON: the text ends early", name);
        else
            an_errorf(err, "%s: not valid JSON: %s", name, json_tokener_error_desc(jerr));
        json_object_put(root);
        json_tokener_free(tk);
        return -1;
    }
    json_tokener_free(tk);
    int rc = -1;
    json_object *o;
    if (!json_object_is_type(root, json_type_object)) {
        an_errorf(err, "%s: not a tokenizer.json (the top level is not an object)", name);
        goto out;
    }
    if (!(tok->md = pcre2_match_data_create(1, NULL))) {
        an_errorf(err, "%s: out of memory", name);
        goto out;
    }
    if (!(o = get(root, "model"))) {
        an_errorf(err, "%s: no \"model\"", name);
        goto out;
    }
    if (parse_model(&c, o) || parse_added(&c, get(root, "added_tokens")))
        goto out;
    if ((o = get(root, "normalizer")) && parse_normalizer(&c, o, "normalizer", &tok->normalizer))
        goto out;
    if ((o = get(root, "pre_tokenizer")) && parse_pretok(&c, o, "pre_tokenizer", &tok->pretok))
        goto out;
    if ((o = get(root, "post_processor")) && parse_post(&c, o, "post_processor", &tok->post))
        goto out;
    if ((o = get(root, "decoder")) && parse_decoder(&c, o, "decoder", &tok->decoder))
        goto out;
    if (build_id_table(&c, c.max_id) || prepare_added(&c))
        goto out;
    rc = 0;
out:
    an_sb_free(&c.scratch);
    json_object_put(root);
    return rc;
}
