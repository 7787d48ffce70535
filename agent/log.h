/* SPDX-License-Identifier: Apache-2.0 */
/*
 * All agent logs go through here, to stderr: stdout carries records only. One line per event,
 * in one of two formats (--log-format):
 *   text: "flowscope: <level>: <message>[ key=value...]"; control bytes escaped as \xNN
 *   json: {"ts":"2026-12-02T19:55:02.123Z","level":"info","msg":"...","fields":{"key":"value"}}
 *         (RFC 8259; control bytes and invalid UTF-8 escaped, so every line parses)
 * Nothing secret may be passed in: callers redact (Kafka passwords never reach a log line).
 */
#ifndef FLOWSCOPE_LOG_H
#define FLOWSCOPE_LOG_H

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

enum log_format {
	LOG_FORMAT_TEXT = 0,
	LOG_FORMAT_JSON = 1,
};

/* Messages above level are discarded. Default: LOG_LEVEL_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Default: LOG_FORMAT_TEXT. */
void log_set_format(enum log_format format);

/* Parses "text" / "json". Returns 0 and sets *out, or -EINVAL. */
int log_format_parse(const char *s, enum log_format *out);

/* Writes one line with the formatted message (at most 1023 bytes; trailing newlines removed). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Writes one line with msg and fields given as key, value string pairs ended by NULL, e.g.
 * log_fields(LOG_LEVEL_INFO, "attached", "cgroup", path, "interval_s", "15", NULL).
 * A NULL value is written as JSON null (text: key=null).
 */
void log_fields(enum log_level level, const char *msg, ...) __attribute__((sentinel));

#define LOG_ERR(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define LOG_WARN(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_INFO(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif /* FLOWSCOPE_LOG_H */
