/*
 * cmd_tokenize.c — `anemone tokenize MODEL TEXT` and `anemone detokenize MODEL ID...`.
 *
 * MODEL is, for now, a local path: a directory with tokenizer files (a model directory
 * beside its meta.yaml, or one holding only tokenizer.json / tokenizer.model), a meta.yaml,
 * a tokenizer.json or a .model file.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "tokenizer/tokenizer.h"

#define MAX_TEXT_FILE ((size_t)1 << 30)

void help_tokenize(FILE *out)
{
    fputs("usage: anemone tokenize [--no-special] MODEL TEXT...\n"
          "       anemone tokenize [--no-special] MODEL -f FILE\n"
          "\n"
          "Print the token ids of TEXT as a JSON array on one line, exactly as Hugging Face\n"
          "tokenizers encodes it. Several TEXT arguments are joined with single spaces;\n"
          "TEXT '-' reads standard input.\n"
          "\n"
          "MODEL is a directory holding tokenizer.json (or tokenizer.model), such as a\n"
          "model directory beside its meta.yaml, a path to meta.yaml, or a tokenizer file.\n"
          "\n"
          "Options:\n"
          "  --no-special   do not add special tokens such as BOS (add_special_tokens=False)\n"
          "  -f, --file FILE  read the text from FILE ('-' for standard input)\n",
          out);
}

void help_detokenize(FILE *out)
{
    fputs("usage: anemone detokenize [--skip-special] MODEL ID...\n"
          "\n"
          "Print the text of the token ids (decimal, separated by spaces or commas; a JSON\n"
          "array as printed by 'anemone tokenize' is accepted). MODEL is as for tokenize.\n"
          "\n"
          "Options:\n"
          "  --skip-special  leave out special tokens (skip_special_tokens=True)\n",
          out);
}

static int read_stream(FILE *fp, an_strbuf *sb)
{
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
        if (an_sb_append(sb, buf, n))
            return -1;
    return ferror(fp) ? -1 : 0;
}

static tok_tokenizer *load(const char *path)
{
    an_error err;
    an_error_clear(&err);
    tok_tokenizer *tok = tok_load(path, &err);
    if (!tok)
        cli_error(NULL, "%s", err.msg);
    return tok;
}

int cmd_tokenize(int argc, char **argv)
{
    int special = 1, dashdash = 0, npos = 0;
    const char *file = NULL;
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos) {
        cli_error(NULL, "out of memory");
        return CLI_ERROR;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && !strcmp(a, "--"))
            dashdash = 1;
        else if (!dashdash && !strcmp(a, "--no-special"))
            special = 0;
        else if (!dashdash && (!strcmp(a, "-f") || !strcmp(a, "--file"))) {
            if (++i >= argc) {
                free(pos);
                return cli_usage_error("tokenize", "%s needs a file name", a);
            }
            file = argv[i];
        } else if (!dashdash && a[0] == '-' && a[1]) {
            free(pos);
            return cli_usage_error("tokenize", "unknown option '%s' (use -- before a text that starts with '-')", a);
        } else
            pos[npos++] = argv[i];
    }
    const char *model = npos ? pos[0] : NULL;
    int first_text = 1, n_text = npos - 1;
    if (!model || (n_text <= 0 && !file) || (file && n_text > 0)) {
        free(pos);
        return cli_usage_error("tokenize", !model ? "missing MODEL"
                                           : file ? "give TEXT or -f FILE, not both"
                                                  : "missing TEXT (or -f FILE)");
    }
    an_strbuf text;
    an_sb_init(&text);
    an_error err;
    an_error_clear(&err);
    if (file && strcmp(file, "-")) {
        char *data;
        size_t len;
        if (an_read_file(file, MAX_TEXT_FILE, &data, &len, &err)) {
            cli_error(NULL, "%s", err.msg);
            free(pos);
            return CLI_ERROR;
        }
        an_sb_append(&text, data, len);
        free(data);
    } else if (file || (n_text == 1 && !strcmp(pos[first_text], "-"))) {
        if (read_stream(stdin, &text)) {
            cli_error(NULL, "reading standard input: %s", strerror(errno));
            an_sb_free(&text);
            free(pos);
            return CLI_ERROR;
        }
    } else {
        for (int i = first_text; i < npos; i++)
            if ((i > first_text && an_sb_putc(&text, ' ')) || an_sb_puts(&text, pos[i]))
                break;
    }
    tok_tokenizer *tok = load(model);
    free(pos);
    if (!tok) {
        an_sb_free(&text);
        return CLI_ERROR;
    }
    int32_t *ids;
    size_t n;
    int rc = CLI_OK;
    if (tok_encode(tok, text.buf, text.len, special, &ids, &n, &err)) {
        cli_error(NULL, "%s", err.msg);
        rc = CLI_ERROR;
    } else {
        an_strbuf out;
        an_sb_init(&out);
        an_sb_putc(&out, '[');
        for (size_t i = 0; i < n; i++)
            an_sb_appendf(&out, i ? ", %d" : "%d", ids[i]);
        an_sb_puts(&out, "]\n");
        fwrite(out.buf, 1, out.len, stdout);
        an_sb_free(&out);
        free(ids);
    }
    tok_free(tok);
    an_sb_free(&text);
    return rc;
}

int cmd_detokenize(int argc, char **argv)
{
    int skip = 0;
    const char *model = NULL;
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc = CLI_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--skip-special")) {
            skip = 1;
            continue;
        }
        if (!model) {
            if (a[0] == '-' && a[1]) {
                free(ids);
                return cli_usage_error("detokenize", "unknown option '%s'", a);
            }
            model = a;
            continue;
        }
        /* ids: decimal numbers separated by spaces, commas or JSON brackets */
        for (const char *p = a; *p;) {
            if (strchr(" ,[]\t\n", *p)) {
                p++;
                continue;
            }
            char *end;
            errno = 0;
            long v = strtol(p, &end, 10);
            if (end == p || errno || v < 0 || v > INT32_MAX || (*end && !strchr(" ,[]\t\n", *end))) {
                free(ids);
                return cli_usage_error("detokenize", "'%s' is not a token id", a);
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                int32_t *nv = realloc(ids, cap * sizeof *nv);
                if (!nv) {
                    free(ids);
                    cli_error(NULL, "out of memory");
                    return CLI_ERROR;
                }
                ids = nv;
            }
            ids[n++] = (int32_t)v;
            p = end;
        }
    }
    if (!model) {
        free(ids);
        return cli_usage_error("detokenize", "missing MODEL");
    }
    tok_tokenizer *tok = load(model);
    if (!tok) {
        free(ids);
        return CLI_ERROR;
    }
    for (size_t i = 0; i < n; i++)
        if ((size_t)ids[i] >= tok_vocab_size(tok)) {
            cli_error(NULL, "token id %d is out of range (the vocabulary has %zu ids)", ids[i],
                      tok_vocab_size(tok));
            rc = CLI_ERROR;
            goto out;
        }
    an_strbuf text;
    an_sb_init(&text);
    an_error err;
    an_error_clear(&err);
    if (tok_decode(tok, ids, n, skip, &text, &err)) {
        cli_error(NULL, "%s", err.msg);
        rc = CLI_ERROR;
    } else {
        fwrite(text.buf, 1, text.len, stdout);
        fputc('\n', stdout);
    }
    an_sb_free(&text);
out:
    tok_free(tok);
    free(ids);
    return rc;
}
