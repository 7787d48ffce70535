/* SPDX-License-Identifier: Apache-2.0 */
/*
 * All agent logs go through here, to stderr: stdout carries records only. One line per event,
 * in one of two formats (--log-format):
 *   text: "flowscope: <level>: <message>[ key=value...]"; control bytes escaped as \xNN
 *   json: {"ts":"2026-12-02T19:55:02.123Z","level":"info","msg":"...","fields":{"key":"value"}}
 *         (RFC 8259; control bytes and invalid UTF-8 escaped, so every line parses)
 * A field's JSON type is the one its call site gives (LOG_STR, LOG_U64, ...), never guessed
 * from its text: a count is a JSON number, a flag true/false, and a string (a pod named "123")
 * stays a string.
 * Nothing secret may be passed in: callers redact (Kafka passwords never reach a log line).
 */
#ifndef FLOWSCOPE_LOG_H
#define FLOWSCOPE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

enum log_field_type {
	LOG_FIELD_STR = 0, /* JSON string (escaped); NULL is null */
	LOG_FIELD_U64, /* JSON number */
	LOG_FIELD_I64, /* JSON number */
	LOG_FIELD_F64, /* JSON number (%.15g); NaN and infinities are null */
	LOG_FIELD_BOOL, /* true / false */
};

/* One field of a log line; made with the LOG_STR() ... LOG_BOOL() initialisers below. */
struct log_field {
	const char *key;
	enum log_field_type type;
	union {
		const char *str;
		uint64_t u64;
		int64_t i64;
		double f64;
		bool b;
	};
};

#define LOG_STR(k, v)                                         \
	{                                                     \
		.key = (k), .type = LOG_FIELD_STR, .str = (v) \
	}
#define LOG_U64(k, v)                                                   \
	{                                                               \
		.key = (k), .type = LOG_FIELD_U64, .u64 = (uint64_t)(v) \
	}
#define LOG_I64(k, v)                                                  \
	{                                                              \
		.key = (k), .type = LOG_FIELD_I64, .i64 = (int64_t)(v) \
	}
#define LOG_F64(k, v)                                                 \
	{                                                             \
		.key = (k), .type = LOG_FIELD_F64, .f64 = (double)(v) \
	}
#define LOG_BOOL(k, v)                                       \
	{                                                    \
		.key = (k), .type = LOG_FIELD_BOOL, .b = (v) \
	}

/*
 * Writes one line with msg and the n fields, in order. Text: "msg key=value..." (a string as
 * is, control bytes escaped; a NULL one as null; numbers in decimal, booleans as true/false).
 * JSON: "fields":{...} with each value of its field's type; no "fields" when n is 0.
 */
void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n);

/*
 * log_fields() over the fields given as arguments, e.g.
 * LOG_FIELDS(LOG_LEVEL_INFO, "attached", LOG_STR("cgroup", path), LOG_U64("interval_s", 15));
 */
#define LOG_FIELDS(level, msg, ...)                                           \
	log_fields((level), (msg), (const struct log_field[]){ __VA_ARGS__ }, \
		   sizeof((const struct log_field[]){ __VA_ARGS__ }) / sizeof(struct log_field))

#define LOG_ERR(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define LOG_WARN(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_INFO(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif /* FLOWSCOPE_LOG_H */
