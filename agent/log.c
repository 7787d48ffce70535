// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define LINE_MAX_BYTES 1024

static enum log_level current_level = LOG_LEVEL_INFO;
static enum log_format current_format = LOG_FORMAT_TEXT;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

void log_set_format(enum log_format format)
{
	current_format = format;
}

int log_format_parse(const char *s, enum log_format *out)
{
	if (!strcmp(s, "text"))
		*out = LOG_FORMAT_TEXT;
	else if (!strcmp(s, "json"))
		*out = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* s as a JSON string body: quote, backslash, control bytes and DEL escaped, invalid UTF-8
 * bytes replaced by U+FFFD. */
static void put_json_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0, len;

	fputc('"', f);
	while (i < n) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			fputc('\\', f), fputc(c, f), i++;
		} else if (c == '\n') {
			fputs("\\n", f), i++;
		} else if (c == '\t') {
			fputs("\\t", f), i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c), i++;
		} else if ((len = utf8_len(s + i, n - i)) == 0) {
			fputs("\\ufffd", f), i++;
		} else {
			fwrite(s + i, 1, len, f), i += len;
		}
	}
	fputc('"', f);
}

/* How put_text() writes a string: a message, a field's key, a field's value. */
enum text_part { TEXT_MSG, TEXT_KEY, TEXT_VALUE };

/* Whether a byte of a key must be escaped: it would end the key or the field. */
static bool key_special(unsigned char c)
{
	return c == ' ' || c == '=' || c == '"';
}

/* Whether a value must be quoted to stay one field: empty, or holding a byte that put_text()
 * escapes or that would end it. */
static bool value_needs_quotes(const unsigned char *s, size_t n)
{
	size_t len;

	if (!n)
		return true;
	for (size_t i = 0; i < n; i += len) {
		len = utf8_len(s + i, n - i);
		if (!len || s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\' || key_special(s[i]))
			return true;
	}
	return false;
}

/*
 * Text (logfmt-like): control bytes, DEL and bytes of invalid UTF-8 as \xNN and a backslash as
 * \\, so that an event stays on one line and an escape cannot be forged by the bytes of a name
 * from another process. A key's space, '=' and '"' are escaped as \xNN too; a value holding any
 * of them (or any escape, or nothing) is quoted, its '"' written \".
 */
static void put_text(FILE *f, const char *str, enum text_part part)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0, len = 0;
	bool quoted = part == TEXT_VALUE && value_needs_quotes(s, n);

	if (quoted)
		fputc('"', f);
	while (i < n) {
		unsigned char c = s[i];

		if (c == '\\') {
			fputs("\\\\", f), i++;
		} else if (quoted && c == '"') {
			fputs("\\\"", f), i++;
		} else if (c < 0x20 || c == 0x7f || (part == TEXT_KEY && key_special(c)) ||
			   (len = utf8_len(s + i, n - i)) == 0) {
			fprintf(f, "\\x%02x", c), i++;
		} else {
			fwrite(s + i, 1, len, f), i += len;
		}
	}
	if (quoted)
		fputc('"', f);
}

static void put_ts(FILE *f)
{
	struct timespec ts;
	struct tm tm;
	char buf[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(f, "\"%s.%03ldZ\"", buf, ts.tv_nsec / 1000000);
}

/* A field's value: JSON of its type, or text. */
static void put_value(FILE *f, const struct log_field *fl, bool json)
{
	switch (fl->type) {
	case LOG_FIELD_STR:
		if (!fl->str)
			fputs("null", f);
		else if (json)
			put_json_string(f, fl->str);
		else
			put_text(f, fl->str, TEXT_VALUE);
		break;
	case LOG_FIELD_U64:
		fprintf(f, "%llu", (unsigned long long)fl->u64);
		break;
	case LOG_FIELD_I64:
		fprintf(f, "%lld", (long long)fl->i64);
		break;
	case LOG_FIELD_F64:
		/* JSON has no NaN or infinity */
		if (isfinite(fl->f64))
			fprintf(f, "%.15g", fl->f64);
		else if (json)
			fputs("null", f);
		else
			fprintf(f, "%g", fl->f64);
		break;
	case LOG_FIELD_BOOL:
		fputs(fl->b ? "true" : "false", f);
		break;
	default:
		fputs("null", f);
		break;
	}
}

/* One line from msg and the fields, written with a single write to stderr. */
static void emit(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);

	if (!f) {
		/* no memory for the line: the message alone, still one line */
		fprintf(stderr, "flowscope: %s: (log line lost: out of memory)\n",
			level_names[level]);
		return;
	}
	if (current_format == LOG_FORMAT_JSON) {
		fputs("{\"ts\":", f);
		put_ts(f);
		fprintf(f, ",\"level\":\"%s\",\"msg\":", level_names[level]);
		put_json_string(f, msg);
		for (size_t i = 0; i < n; i++) {
			fputs(i ? "," : ",\"fields\":{", f);
			put_json_string(f, fields[i].key);
			fputc(':', f);
			put_value(f, &fields[i], true);
		}
		fputs(n ? "}}" : "}", f);
	} else {
		fprintf(f, "flowscope: %s: ", level_names[level]);
		put_text(f, msg, TEXT_MSG);
		for (size_t i = 0; i < n; i++) {
			fputc(' ', f);
			put_text(f, fields[i].key, TEXT_KEY);
			fputc('=', f);
			put_value(f, &fields[i], false);
		}
	}
	fputc('\n', f);
	if (fclose(f) == 0)
		fwrite(line, 1, len, stderr);
	free(line);
	fflush(stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char msg[LINE_MAX_BYTES];
	va_list ap;
	size_t n;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* libbpf's messages arrive with their own newline */
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	emit(level, msg, NULL, 0);
}

void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
	if (level > current_level)
		return;
	emit(level, msg, fields, n);
}
