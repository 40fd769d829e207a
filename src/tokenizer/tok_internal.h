/*
 * tok_internal.h — the pieces of a loaded tokenizer, shared by the tok_*.c files.
 *
 * Everything a tokenizer owns lives in its arena except the compiled regexes (listed in
 * `regexes`, freed with it), the hash tables and the word cache. Strings are stored with
 * their byte length; they are also NUL-terminated for convenience but may contain NUL.
 */
#ifndef TOK_INTERNAL_H
#define TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "tokenizer.h"

/* ---- hash tables (tok_hash.c), keyed with XXH3 ---- */

/* byte string -> int32 value. Keys are not copied: they must outlive the map. */
typedef struct tok_strmap {
    struct tok_strmap_slot *slots;
    size_t cap, count; /* cap is a power of two, or 0 */
} tok_strmap;

void tok_strmap_free(tok_strmap *m);
/* Make room for n entries in one step (0, or -1 when out of memory). */
int tok_strmap_reserve(tok_strmap *m, size_t n);
/* Insert or overwrite. Returns 0, or -1 when out of memory. */
int tok_strmap_put(tok_strmap *m, const char *key, uint32_t len, int32_t value);
/* The value, or -1 when absent. */
int32_t tok_strmap_get(const tok_strmap *m, const char *key, size_t len);

/* Call fn for every entry, in table order. */
void tok_strmap_each(const tok_strmap *m, void (*fn)(void *, const char *, uint32_t, int32_t),
                     void *ud);

/* (left id, right id) -> (rank, merged id), for BPE merges. */
typedef struct tok_pairmap {
    struct tok_pair_slot *slots;
    size_t cap, count;
} tok_pairmap;

void tok_pairmap_free(tok_pairmap *m);
int tok_pairmap_reserve(tok_pairmap *m, size_t n);
int tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged);
/* 1 and the rank/merged id when present, else 0. */
int tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *merged);

/* ---- strings, Unicode, regex (tok_text.c) ---- */

typedef struct tok_str {
    const char *s;
    size_t n;
} tok_str;

/* Decode one UTF-8 character of valid text at s (n > 0 bytes left); returns its length. */
int tok_utf8_next(const char *s, size_t n, uint32_t *cp);
int tok_utf8_encode(uint32_t cp, char out[4]);
/* Append text to out with every maximal invalid subsequence replaced by U+FFFD. */
int tok_utf8_lossy(const char *s, size_t n, an_strbuf *out);
/* 1 when the bytes are valid UTF-8. */
int tok_utf8_valid(const char *s, size_t n);

int tok_is_whitespace(uint32_t cp);  /* Unicode White_Space (Rust char::is_whitespace) */
int tok_is_word_char(uint32_t cp);   /* regex \w: alphabetic, marks, Nd, Pc, joiners */
int tok_is_numeric(uint32_t cp);     /* Nd, Nl, No (Rust char::is_numeric) */
int tok_is_punctuation(uint32_t cp); /* ASCII punctuation or any P* category */

/* A String or Regex pattern of tokenizer.json. */
typedef struct tok_pattern {
    pcre2_code *re; /* NULL for a literal */
    char *lit;
    size_t lit_len;
} tok_pattern;

/* A split of s into matches and non-matches covering it, as HF Pattern::find_matches. */
typedef struct tok_match {
    size_t start, end;
    int is_match;
} tok_match;

typedef struct tok_matches {
    tok_match *v;
    size_t n, cap;
} tok_matches;

/* Compile an Oniguruma-syntax regex from tokenizer.json for PCRE2 (UTF, UCP, JIT). */
pcre2_code *tok_regex_compile(const char *pattern, size_t len, an_error *err);
/* Fill m (cleared first) with the matches of p in s. */
int tok_pattern_find(const tok_pattern *p, pcre2_match_data *md, const char *s, size_t n,
                     tok_matches *m);

/* ---- components ---- */

enum tok_norm_type {
    TOK_N_NFC, TOK_N_NFD, TOK_N_NFKC, TOK_N_NFKD, TOK_N_LOWERCASE, TOK_N_REPLACE,
    TOK_N_PREPEND, TOK_N_STRIP, TOK_N_SEQUENCE,
};

typedef struct tok_normalizer {
    enum tok_norm_type type;
    tok_pattern pat;      /* Replace */
    tok_str content;      /* Replace content, Prepend text */
    int left, right;      /* Strip */
    struct tok_normalizer **items; /* Sequence */
    size_t n_items;
} tok_normalizer;

enum tok_behavior { TOK_B_REMOVED, TOK_B_ISOLATED, TOK_B_MERGED_PREV, TOK_B_MERGED_NEXT,
                    TOK_B_CONTIGUOUS };

enum tok_pretok_type {
    TOK_P_SPLIT, TOK_P_BYTELEVEL, TOK_P_METASPACE, TOK_P_DIGITS, TOK_P_PUNCTUATION,
    TOK_P_WHITESPACE, TOK_P_WHITESPACE_SPLIT, TOK_P_BERT, TOK_P_SEQUENCE,
};

enum tok_prepend { TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER };

typedef struct tok_pretok {
    enum tok_pretok_type type;
    tok_pattern pat;       /* Split; ByteLevel's and Whitespace's built-in regexes */
    enum tok_behavior behavior;
    int invert;
    int add_prefix_space, use_regex;       /* ByteLevel */
    uint32_t replacement;                  /* Metaspace */
    enum tok_prepend prepend;
    int split;
    int individual_digits;                 /* Digits */
    struct tok_pretok **items;
    size_t n_items;
} tok_pretok;

enum tok_dec_type {
    TOK_D_BYTELEVEL, TOK_D_METASPACE, TOK_D_REPLACE, TOK_D_BYTEFALLBACK, TOK_D_FUSE,
    TOK_D_STRIP, TOK_D_BPE, TOK_D_SEQUENCE,
};

typedef struct tok_decoder {
    enum tok_dec_type type;
    tok_pattern pat;
    tok_str content;      /* Replace content; BPEDecoder suffix */
    uint32_t ch;          /* Strip content char; Metaspace replacement */
    enum tok_prepend prepend;
    size_t start, stop;   /* Strip */
    struct tok_decoder **items;
    size_t n_items;
} tok_decoder;

enum tok_post_type { TOK_PP_TEMPLATE, TOK_PP_BYTELEVEL, TOK_PP_CLS_SEP, TOK_PP_SEQUENCE };

typedef struct tok_post {
    enum tok_post_type type;
    /* Template "single": ids to put before and after the sequence (ids of the special
     * tokens named in it, in order); RobertaProcessing/BertProcessing map to cls/sep. */
    int32_t *before, *after;
    size_t n_before, n_after;
    struct tok_post **items;
    size_t n_items;
} tok_post;

typedef struct tok_added {
    tok_str content;    /* as written */
    tok_str matched;    /* what is searched for: content, normalized when `normalized` */
    int32_t id;
    int special, lstrip, rstrip, single_word, normalized;
} tok_added;

/* A byte trie over added-token strings for leftmost-longest search. */
typedef struct tok_trie_node {
    int32_t child, sibling; /* node indices, -1 for none */
    int32_t added;          /* index into tok->added, or -1 */
    unsigned char byte;
} tok_trie_node;

typedef struct tok_trie {
    tok_trie_node *nodes;
    size_t n, cap;
    int32_t root[256];      /* first-level nodes by byte, -1 for none */
    int ready;              /* root[] initialised */
} tok_trie;

/* The word cache of the BPE model: piece -> ids. Cleared when full. */
typedef struct tok_cache {
    tok_strmap map;          /* piece -> index into recs */
    an_arena arena;          /* keys and records */
    struct tok_cache_rec **recs; /* [TOK_CACHE_MAX] */
    size_t count;
} tok_cache;

#define TOK_CACHE_MAX 65536

typedef struct tok_bpe {
    tok_strmap vocab;
    tok_pairmap merges;
    int32_t unk_id;              /* -1 when no unk token */
    int fuse_unk, byte_fallback, ignore_merges;
    tok_str prefix, suffix;      /* continuing_subword_prefix, end_of_word_suffix */
    int32_t byte_ids[256];       /* ids of <0xNN>, -1 when absent */
} tok_bpe;

struct tok_spm; /* spm_shim.cc */

struct tok_tokenizer {
    an_arena arena;
    char *dir;
    /* tokenizer.json */
    tok_bpe bpe;
    char **id_to_token;          /* [n_ids] model vocabulary and added tokens */
    uint32_t *id_len;            /* byte length of each id_to_token entry */
    unsigned char *id_special;   /* [n_ids] 1 for special added tokens */
    unsigned char *id_added;     /* [n_ids] 1 for any added token */
    size_t n_ids;
    tok_added *added;
    size_t n_added;
    tok_strmap added_map;        /* content -> id */
    tok_trie trie_raw, trie_norm;
    tok_normalizer *normalizer;
    tok_pretok *pretok;
    tok_post *post;
    tok_decoder *decoder;
    pcre2_match_data *md;
    pcre2_code **regexes;
    size_t n_regexes, cap_regexes;
    tok_cache cache;
    /* sentencepiece */
    struct tok_spm *spm;
    /* tokenizer_config.json */
    char *bos, *eos;
};

/* tok_jscan.c: byte ranges of model.vocab / model.merges in a tokenizer.json, and strict
 * readers for them. The callbacks return non-zero to stop (an error). */
typedef struct tok_jspan {
    size_t start, end;
} tok_jspan;
typedef int (*tok_jscan_vocab_fn)(void *ud, const char *key, size_t len, int64_t id);
typedef int (*tok_jscan_merge_fn)(void *ud, size_t index, const char *a, size_t la,
                                  const char *b, size_t lb);
/* 0 and both spans when the document has the usual layout, else -1 (use json-c only). */
int tok_jscan_locate(const char *doc, size_t len, tok_jspan *vocab, tok_jspan *merges);
int tok_jscan_vocab(const char *s, size_t n, tok_jscan_vocab_fn fn, void *ud);
int tok_jscan_merges(const char *s, size_t n, tok_jscan_merge_fn fn, void *ud);

/* tok_load.c: parse a tokenizer.json document into tok (arena, tables, components). */
int tok_parse_json(tok_tokenizer *tok, const char *data, size_t len, const char *name,
                   an_error *err);
/* Register a compiled regex so tok_free releases it. */
int tok_keep_regex(tok_tokenizer *tok, pcre2_code *re);

/* tok_norm.c */
int tok_normalize(tok_tokenizer *tok, const tok_normalizer *n, const char *s, size_t len,
                  an_strbuf *out);

/* tok_pretok.c: a list of pieces of text (each owned by the encode arena or the input). */
typedef struct tok_piece {
    const char *s;
    size_t n;
    int orig0; /* the piece starts at offset 0 of the original text */
} tok_piece;

typedef struct tok_pieces {
    tok_piece *v;
    size_t n, cap;
} tok_pieces;

int tok_pieces_push(tok_pieces *p, const char *s, size_t n, int orig0);
int tok_pretokenize(tok_tokenizer *tok, const tok_pretok *pt, an_arena *scratch,
                    tok_pieces *pieces);
/* Split s by matches according to a behaviour (HF NormalizedString::split). */
int tok_split_by(const tok_matches *m, enum tok_behavior b, const char *s, int orig0,
                 tok_pieces *out);
extern const uint32_t tok_byte_to_char[256];

/* tok_bpe.c */
int tok_bpe_encode(tok_tokenizer *tok, const char *s, size_t n, int32_t **ids, size_t *n_ids,
                   size_t *cap);
void tok_cache_free(tok_cache *c);

/* tok_decode.c */
int tok_decode_tokens(const tok_tokenizer *tok, const tok_decoder *d, tok_str *tokens,
                      size_t n, an_strbuf *out);

/* tok_trie (tok_encode.c) */
int tok_trie_add(tok_trie *t, const char *s, size_t n, int32_t added_index);
void tok_trie_free(tok_trie *t);

/* spm_shim.cc — a C API over libsentencepiece. */
struct tok_spm *tok_spm_load(const char *path, an_error *err);
void tok_spm_free(struct tok_spm *s);
int tok_spm_encode(struct tok_spm *s, const char *text, size_t len, int32_t **ids,
                   size_t *n, an_error *err);
int tok_spm_decode(struct tok_spm *s, const int32_t *ids, size_t n, an_strbuf *out,
                   an_error *err);
size_t tok_spm_size(const struct tok_spm *s);
/* Piece text of an id (stable while s lives) or NULL; id of a piece or -1. */
const char *tok_spm_piece(const struct tok_spm *s, int32_t id);
int32_t tok_spm_piece_id(const struct tok_spm *s, const char *piece);
int32_t tok_spm_bos(const struct tok_spm *s);
int32_t tok_spm_eos(const struct tok_spm *s);
int tok_spm_is_control(const struct tok_spm *s, int32_t id);

/* tok_api.c: sentencepiece encode with BOS when add_special. */
int tok_spm_encode_special(tok_tokenizer *tok, const char *text, size_t len, int add_special,
                           int32_t **ids, size_t *n_ids, an_error *err);

#endif
