/*
 * log.h — diagnostics on stderr with levels.
 *
 * Everything that is not generated text goes to stderr (CLI.md, output discipline).
 * The level is process-wide, set once by the CLI (-q / -v) before any work starts;
 * logging itself is thread-safe (one fprintf per message).
 */
#ifndef AN_LOG_H
#define AN_LOG_H

typedef enum an_log_level {
    AN_LOG_ERROR = 0,
    AN_LOG_WARN = 1,
    AN_LOG_INFO = 2,
    AN_LOG_DEBUG = 3,
    AN_LOG_TRACE = 4,
} an_log_level;

void an_log_set_level(an_log_level level);
an_log_level an_log_get_level(void);

/* Whether a message at this level would be printed (to skip expensive formatting). */
int an_log_enabled(an_log_level level);

/* Print "anemone: <level>: message\n" to stderr when level <= the current level.
 * ERROR and WARN are labelled; INFO and below print the bare message after "anemone: ". */
void an_log(an_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define an_warn(...) an_log(AN_LOG_WARN, __VA_ARGS__)
#define an_info(...) an_log(AN_LOG_INFO, __VA_ARGS__)
#define an_debug(...) an_log(AN_LOG_DEBUG, __VA_ARGS__)

#endif
