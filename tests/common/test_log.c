/* test_log.c — levels and the format of diagnostics on stderr. */
#include "test.h"

#include <unistd.h>

#include "common/log.h"

/* Run fn with stderr sent to a temporary file; return what it printed. */
static char captured[4096];

static void capture(void (*fn)(void))
{
    char path[] = "/tmp/anemone-log-XXXXXX";
    int fd = mkstemp(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, captured, sizeof captured - 1);
    captured[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

static void emit_all(void)
{
    an_log(AN_LOG_ERROR, "e%d", 1);
    an_warn("w%d", 2);
    an_info("i%d", 3);
    an_debug("d%d", 4);
}

TEST(levels_filter_and_label)
{
    an_log_set_level(AN_LOG_WARN);
    capture(emit_all);
    CHECK_EQ_STR(captured, "anemone: error: e1\nanemone: warning: w2\n");
    an_log_set_level(AN_LOG_DEBUG);
    CHECK(an_log_enabled(AN_LOG_DEBUG) && !an_log_enabled(AN_LOG_TRACE));
    capture(emit_all);
    CHECK_EQ_STR(captured, "anemone: error: e1\nanemone: warning: w2\nanemone: i3\nanemone: debug: d4\n");
    an_log_set_level(AN_LOG_ERROR);
    CHECK_EQ_INT(an_log_get_level(), AN_LOG_ERROR);
    capture(emit_all);
    CHECK_EQ_STR(captured, "anemone: error: e1\n");
    an_log_set_level(AN_LOG_WARN);
}

int main(void)
{
    RUN(levels_filter_and_label);
    return t_finish();
}
