/* log.c — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static _Atomic int current_level = AN_LOG_WARN;

void an_log_set_level(an_log_level level) { atomic_store(&current_level, (int)level); }

an_log_level an_log_get_level(void) { return (an_log_level)atomic_load(&current_level); }

int an_log_enabled(an_log_level level) { return (int)level <= atomic_load(&current_level); }

void an_log(an_log_level level, const char *fmt, ...)
{
    if (!an_log_enabled(level))
        return;
    static const char *const label[] = {"error: ", "warning: ", "", "debug: ", "trace: "};
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "anemone: %s%s\n", label[level], buf);
}
