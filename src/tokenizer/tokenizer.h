/*
 * tokenizer.h — text ↔ token ids, byte-exact with Hugging Face `tokenizers`.
 *
 * Two back ends behind one handle:
 *   - tokenizer.json (BPE model with its normalizer, pre-tokenizer, added tokens,
 *     post-processor and decoder), encoded as HF `Tokenizer.encode(text,
 *     add_special_tokens=...)` and decoded as `Tokenizer.decode(ids, skip_special_tokens=...)`;
 *   - tokenizer.model (sentencepiece), through libsentencepiece, used when a directory
 *     has no tokenizer.json.
 *
 * Text in is any byte string: invalid UTF-8 is replaced by U+FFFD per maximal invalid
 * subsequence (as Rust's String::from_utf8_lossy and Python's errors="replace" do)
 * before encoding. Text out is always valid UTF-8.
 *
 * Ownership and threads: a tok_tokenizer is created by tok_load* and released by
 * tok_free. Encoding keeps a word cache and scratch regex state inside the handle, so
 * one handle must be used by one thread at a time; decoding and the lookups are
 * read-only and may run concurrently with each other (not with encode).
 */
#ifndef TOK_TOKENIZER_H
#define TOK_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/strbuf.h"

typedef struct tok_tokenizer tok_tokenizer;

/* Load from a path that is one of: a directory holding tokenizer.json (or, without one,
 * tokenizer.model), e.g. a model directory beside its meta.yaml; a path to meta.yaml
 * (its directory is used); a tokenizer.json file; a sentencepiece .model file.
 * tokenizer_config.json beside the file, when present, supplies bos/eos token strings. */
tok_tokenizer *tok_load(const char *path, an_error *err);

/* Parse a tokenizer.json held in memory. `name` is used in error messages. */
tok_tokenizer *tok_load_json_buffer(const char *data, size_t len, const char *name,
                                    an_error *err);

void tok_free(tok_tokenizer *tok); /* NULL-safe */

/* Encode `len` bytes of text. On success *ids is a malloc'd array (caller frees; may be
 * NULL when *n_ids == 0). add_special: apply the post-processor's special tokens
 * (BOS/EOS), as HF add_special_tokens. */
int tok_encode(tok_tokenizer *tok, const char *text, size_t len, int add_special,
               int32_t **ids, size_t *n_ids, an_error *err);

/* Decode ids into out (appended, NUL-terminated). Unknown ids are dropped, as HF does.
 * skip_special: leave out special added tokens. */
int tok_decode(const tok_tokenizer *tok, const int32_t *ids, size_t n_ids, int skip_special,
               an_strbuf *out, an_error *err);

/* Number of ids: one more than the largest id of the vocabulary and added tokens. */
size_t tok_vocab_size(const tok_tokenizer *tok);

/* The token string of an id (added tokens first, then the model), or NULL. Owned by tok. */
const char *tok_id_to_token(const tok_tokenizer *tok, int32_t id);

/* The id of a token string (added tokens first, then the model), or -1. */
int32_t tok_token_to_id(const tok_tokenizer *tok, const char *token);

/* 1 when the id is a special added token (what skip_special leaves out). */
int tok_is_special(const tok_tokenizer *tok, int32_t id);

/* The BOS / EOS token strings: from tokenizer_config.json ("bos_token"/"eos_token",
 * plain strings or {"content": ...}), else from the sentencepiece model; NULL when the
 * tokenizer has none. Owned by tok. */
const char *tok_bos_token(const tok_tokenizer *tok);
const char *tok_eos_token(const tok_tokenizer *tok);

/* The ids of those tokens, or -1. */
int32_t tok_bos_id(const tok_tokenizer *tok);
int32_t tok_eos_id(const tok_tokenizer *tok);

/* The directory the tokenizer was loaded from (where tokenizer_config.json would sit),
 * or NULL for an in-memory load. Owned by tok. */
const char *tok_dir(const tok_tokenizer *tok);

/*
 * Streaming detokenizer: feed generated ids one at a time and get text that is always
 * made of whole UTF-8 characters. Ids are held back only while they end in the first
 * bytes of a character (byte-level tokens, <0xNN> byte-fallback pieces) that later ids
 * may complete, and never more than TOK_STREAM_MAX_HOLD ids. For every id sequence an
 * encoder produces, the concatenation of all chunks and the final flush equals tok_decode
 * of all ids. (Ids a model samples can form invalid byte runs; the stream then shows each
 * character as soon as it is complete, where a one-shot ByteFallback decode would turn
 * the whole run into U+FFFD.) A stream borrows its tokenizer, which must outlive it; one
 * thread at a time.
 */
#define TOK_STREAM_MAX_HOLD 8

typedef struct tok_stream tok_stream;

tok_stream *tok_stream_new(const tok_tokenizer *tok, int skip_special);
void tok_stream_free(tok_stream *st);
/* Append the text that became final to out (possibly nothing). */
int tok_stream_push(tok_stream *st, int32_t id, an_strbuf *out, an_error *err);
/* Append whatever is held back; the stream can then be reused for a new text. */
int tok_stream_flush(tok_stream *st, an_strbuf *out, an_error *err);

#endif
