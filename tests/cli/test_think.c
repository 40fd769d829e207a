/* test_think.c — <think> sections in streamed text, whatever the chunking. */
#include "test.h"

#include "cli/think.h"

/* Feed text in chunks of `step` bytes through a filter; return what came out. */
static char *run(const char *text, size_t step, int hide, int dim)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    cli_think f;
    cli_think_init(&f, hide, dim);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += step)
        cli_think_feed(&f, fp, text + i, i + step < n ? step : n - i, 0);
    cli_think_feed(&f, fp, "", 0, 1);
    cli_think_free(&f);
    fclose(fp);
    return buf;
}

static const char text[] = "<think>\nhmm <b> x</think>\n\nAnswer: a<b, <thin";

TEST(shown_hidden_dimmed_any_chunking)
{
    for (size_t step = 1; step <= sizeof text; step++) {
        char *shown = run(text, step, 0, 0), *hidden = run(text, step, 1, 0), *dim = run(text, step, 0, 1);
        CHECK_EQ_STR(shown, text);
        CHECK_EQ_STR(hidden, "\n\nAnswer: a<b, <thin");
        /* dimmed: the section's text, markers included, only between ESC[2m and ESC[0m */
        char plain[256];
        size_t k = 0;
        int depth = 0, ok = 1;
        for (const char *p = dim; *p; p++) {
            if (!strncmp(p, "\033[2m", 4)) {
                depth++, p += 3;
                continue;
            }
            if (!strncmp(p, "\033[0m", 4)) {
                depth--, p += 3;
                continue;
            }
            if (k < sizeof plain - 1)
                plain[k++] = *p;
            size_t at = k - 1; /* position in the plain text */
            int inside = at < (size_t)(strstr(text, "</think>") - text) + 8;
            if (inside != (depth == 1))
                ok = 0;
        }
        plain[k] = '\0';
        CHECK_EQ_STR(plain, text);
        CHECK(ok && depth == 0);
        free(shown), free(hidden), free(dim);
        if (t_case_failed) {
            printf("chunk size %zu\n", step);
            return;
        }
    }
}

static int open_at_end(const char *s) { return cli_think_open_at_end(s, strlen(s)); }

TEST(prompt_ending_inside_a_section)
{
    CHECK(open_at_end("<|im_start|>assistant\n<think>\n"));
    CHECK(open_at_end("<think>a</think>b<think>"));
    CHECK(open_at_end("<think>"));
    CHECK(!open_at_end("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
    CHECK(!open_at_end("<|im_start|>assistant\n"));
    CHECK(!open_at_end(""));
    CHECK(!open_at_end("<think"));
    CHECK(!open_at_end("</think>"));
    CHECK(!open_at_end("<think>x</think>"));
}

/* An answer that starts inside the section: hidden up to </think>, or dimmed. */
TEST(answer_starting_inside_a_section)
{
    static const char answer[] = "hmm, salt</think>\n\nRocks.";
    for (size_t step = 1; step <= sizeof answer; step++) {
        for (int mode = 0; mode < 2; mode++) {
            char *buf = NULL;
            size_t len = 0;
            FILE *fp = open_memstream(&buf, &len);
            cli_think f;
            cli_think_init(&f, mode == 0, mode == 1);
            f.in_think = 1;
            size_t n = strlen(answer);
            for (size_t i = 0; i < n; i += step)
                cli_think_feed(&f, fp, answer + i, i + step < n ? step : n - i, 0);
            cli_think_feed(&f, fp, "", 0, 1);
            cli_think_free(&f);
            fclose(fp);
            if (mode == 0) {
                CHECK_EQ_STR(buf, "\n\nRocks.");
            } else {
                /* everything before the plain answer is dimmed, piece by piece */
                const char *tail = strstr(buf, "\n\nRocks.");
                CHECK(tail && !strcmp(tail, "\n\nRocks."));
                CHECK(!strncmp(buf, "\033[2m", 4));
                CHECK(tail && tail - buf >= 4 && !strncmp(tail - 4, "\033[0m", 4));
            }
            free(buf);
        }
        if (t_case_failed) {
            printf("chunk size %zu\n", step);
            return;
        }
    }
}

int main(void)
{
    RUN(shown_hidden_dimmed_any_chunking);
    RUN(prompt_ending_inside_a_section);
    RUN(answer_starting_inside_a_section);
    return t_finish();
}
