// SPDX-License-Identifier: Apache-2.0
/*
 * Schema Registry client over libcurl, and the Confluent wire format of protobuf values. See
 * schema_registry.h; docs/kafka.md, "Schema Registry".
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "schema_registry.h"

/* Bytes of an answer kept (for the id, or for the error message). */
#define ANSWER_MAX (64 * 1024)
/* Bytes of a refusal's answer quoted in the error message. */
#define ANSWER_QUOTED 300

struct schema_registry {
	CURL *curl;
	char *base; /* the URL as given, without a trailing '/' (may carry userinfo) */
	char *shown; /* the URL without userinfo, for messages */
	uint32_t timeout_ms;
};

struct answer {
	char buf[ANSWER_MAX + 1];
	size_t len;
	bool cut;
};

/*
 * The URL without userinfo, or NULL when libcurl cannot parse it. *has_query tells whether it
 * has a query or a fragment. Caller frees.
 */
static char *url_without_userinfo(const char *url, bool *has_query)
{
	CURLU *u = curl_url();
	char *out = NULL, *part = NULL;

	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto done;
	*has_query = false;
	if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK) {
		*has_query = true;
		curl_free(part);
	}
	if (curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
		*has_query = true;
		curl_free(part);
	}
	if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0) != CURLUE_OK)
		goto done;
	if (curl_url_get(u, CURLUPART_URL, &part, 0) == CURLUE_OK) {
		out = strdup(part);
		curl_free(part);
	}
done:
	curl_url_cleanup(u);
	return out;
}

int schema_registry_check_url(const char *url, char *err, size_t errsz)
{
	bool has_query = false;
	char *shown;
	int ret = 0;

	if (!url || !*url) {
		snprintf(err, errsz, "empty schema registry URL");
		return -EINVAL;
	}
	if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) {
		/* the URL may be anything here, credentials too: do not quote it */
		snprintf(err, errsz, "schema registry URL must start with http:// or https://");
		return -EINVAL;
	}
	shown = url_without_userinfo(url, &has_query);
	if (!shown) {
		snprintf(err, errsz, "schema registry URL is not a valid URL");
		return -EINVAL;
	}
	if (has_query) {
		snprintf(err, errsz, "schema registry URL %s: no query or fragment allowed", shown);
		ret = -EINVAL;
	}
	free(shown);
	return ret;
}

/*
 * Whether schema_registry_global_init() succeeded (and cleanup has not run since). Written only
 * by those two, which the header requires to run on the one thread of a process's start and
 * exit, so no lock.
 */
static bool curl_ready;

int schema_registry_global_init(char *err, size_t errsz)
{
	if (curl_ready)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errsz, "schema registry: libcurl cannot be initialised");
		return -ENOMEM;
	}
	curl_ready = true;
	return 0;
}

void schema_registry_global_cleanup(void)
{
	if (!curl_ready)
		return;
	curl_global_cleanup();
	curl_ready = false;
}

struct schema_registry *schema_registry_create(const char *url, uint32_t timeout_ms, char *err,
					       size_t errsz)
{
	struct schema_registry *sr;
	bool has_query;
	size_t len;

	if (schema_registry_check_url(url, err, errsz))
		return NULL;
	if (!curl_ready) {
		/* a bug of the caller, not of the input: said plainly rather than racing */
		snprintf(err, errsz,
			 "schema registry: schema_registry_global_init() was not called");
		return NULL;
	}
	sr = calloc(1, sizeof(*sr));
	if (!sr)
		goto nomem;
	sr->timeout_ms = timeout_ms ? timeout_ms : 1;
	sr->base = strdup(url);
	sr->shown = url_without_userinfo(url, &has_query);
	if (!sr->base || !sr->shown)
		goto nomem;
	len = strlen(sr->base);
	while (len && sr->base[len - 1] == '/')
		sr->base[--len] = '\0';
	len = strlen(sr->shown);
	while (len && sr->shown[len - 1] == '/')
		sr->shown[--len] = '\0';
	sr->curl = curl_easy_init();
	if (!sr->curl) {
		schema_registry_destroy(sr);
		snprintf(err, errsz, "schema registry: libcurl cannot be initialised");
		return NULL;
	}
	return sr;
nomem:
	schema_registry_destroy(sr);
	snprintf(err, errsz, "schema registry: out of memory");
	return NULL;
}

void schema_registry_destroy(struct schema_registry *sr)
{
	if (!sr)
		return;
	if (sr->curl)
		curl_easy_cleanup(sr->curl);
	free(sr->base);
	free(sr->shown);
	free(sr);
}

const char *schema_registry_url(const struct schema_registry *sr)
{
	return sr->shown;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct answer *a = arg;
	size_t n = size * nmemb, room = ANSWER_MAX - a->len;

	if (n > room) {
		a->cut = true;
		n = room;
	}
	memcpy(a->buf + a->len, data, n);
	a->len += n;
	a->buf[a->len] = '\0';
	/* keep reading (and dropping) the rest: the status line is what matters */
	return size * nmemb;
}

/* The start of an answer on one line: control bytes and non-ASCII bytes become '?'. */
static void quote_answer(const struct answer *a, char *out, size_t outsz)
{
	size_t n = a->len < ANSWER_QUOTED ? a->len : ANSWER_QUOTED, j = 0;

	for (size_t i = 0; i < n && j + 1 < outsz; i++) {
		unsigned char c = a->buf[i];

		out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : (c == '\n' || c == '\r') ? ' ' : '?';
	}
	while (j && out[j - 1] == ' ')
		j--;
	if (j + 4 < outsz && (a->len > n || a->cut)) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j] = '\0';
	if (!j)
		snprintf(out, outsz, "(empty answer)");
}

int schema_registry_register_protobuf(struct schema_registry *sr, const char *subject,
				      const char *schema, uint32_t *id, char *err, size_t errsz)
{
	struct answer *a = calloc(1, sizeof(*a));
	char curl_err[CURL_ERROR_SIZE] = "", *url = NULL, *esc = NULL, *body = NULL;
	struct curl_slist *hdrs = NULL;
	json_t *req = NULL, *ans = NULL, *jid;
	long status = 0;
	CURLcode rc;
	int ret = -ENOMEM;
	CURL *c = sr->curl;

	req = json_pack("{s:s, s:s}", "schemaType", "PROTOBUF", "schema", schema);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	esc = curl_easy_escape(c, subject, 0);
	if (!a || !body || !esc || asprintf(&url, "%s/subjects/%s/versions", sr->base, esc) < 0) {
		url = NULL;
		snprintf(err, errsz, "schema registry: out of memory");
		goto out;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/vnd.schemaregistry.v1+json");
	hdrs = curl_slist_append(hdrs, "Accept: application/vnd.schemaregistry.v1+json, "
				       "application/json");
	if (!hdrs) {
		snprintf(err, errsz, "schema registry: out of memory");
		goto out;
	}
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)sr->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)sr->timeout_ms);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "flowscope");
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		/* curl's messages name the host and port, never the userinfo */
		snprintf(err, errsz,
			 "schema registry %s: registering subject %s: %s (timeout %u ms)",
			 sr->shown, subject, *curl_err ? curl_err : curl_easy_strerror(rc),
			 sr->timeout_ms);
		ret = -EIO;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	ret = -EPROTO;
	if (status == 200 && !a->cut) {
		ans = json_loadb(a->buf, a->len, 0, NULL);
		jid = json_is_object(ans) ? json_object_get(ans, "id") : NULL;
		/* Confluent's ids are 32-bit signed integers on the wire of the API, 4 bytes in
		 * the wire format */
		if (json_is_integer(jid) && json_integer_value(jid) >= 0 &&
		    json_integer_value(jid) <= INT32_MAX) {
			*id = (uint32_t)json_integer_value(jid);
			ret = 0;
			goto out;
		}
	}
	{
		char quoted[ANSWER_QUOTED + 8];

		quote_answer(a, quoted, sizeof(quoted));
		if (status == 200)
			snprintf(err, errsz,
				 "schema registry %s: registering subject %s: HTTP 200 without a "
				 "schema id: %s",
				 sr->shown, subject, quoted);
		else
			snprintf(err, errsz, "schema registry %s refused subject %s: HTTP %ld: %s",
				 sr->shown, subject, status, quoted);
	}
out:
	json_decref(ans);
	json_decref(req);
	curl_slist_free_all(hdrs);
	curl_free(esc);
	free(body);
	free(url);
	free(a);
	return ret;
}

/* ---- the .proto text: top-level message declarations ------------------------------------ */

/* p past blanks and comments. */
static const char *skip_space(const char *p)
{
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (p[0] == '/' && p[1] == '/') {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");

			p = end ? end + 2 : p + strlen(p);
		} else {
			return p;
		}
	}
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.';
}

/* The identifier at p (letters, digits, '_' and '.'), its length in *len. */
static const char *word(const char *p, size_t *len)
{
	const char *s = p;

	while (ident_char(*p))
		p++;
	*len = p - s;
	return s;
}

int sr_proto_message_index(const char *proto, const char *full_name)
{
	const char *p = proto, *pkg = NULL, *name = full_name, *dot = strrchr(full_name, '.');
	size_t pkg_len = 0, len;
	int depth = 0, index = 0, found = -ENOENT;

	while (*(p = skip_space(p))) {
		if (*p == '"' || *p == '\'') {
			char q = *p++;

			while (*p && *p != q)
				p += (*p == '\\' && p[1]) ? 2 : 1;
			if (*p)
				p++;
		} else if (*p == '{') {
			depth++;
			p++;
		} else if (*p == '}') {
			depth--;
			p++;
		} else if (ident_char(*p)) {
			const char *w = word(p, &len);

			p += len;
			if (depth)
				continue;
			if (len == 7 && !memcmp(w, "package", 7)) {
				pkg = word(p = skip_space(p), &pkg_len);
				p += pkg_len;
			} else if (len == 7 && !memcmp(w, "message", 7)) {
				const char *m = word(p = skip_space(p), &len);

				p += len;
				if (found < 0 && len == strlen(dot ? dot + 1 : name) &&
				    !memcmp(m, dot ? dot + 1 : name, len))
					found = index;
				index++;
			}
		} else {
			p++;
		}
	}
	if (found < 0)
		return -ENOENT;
	/* "pkg.Name" must name the file's package, "Name" a file without one */
	if (dot ? !pkg || (size_t)(dot - full_name) != pkg_len || memcmp(pkg, full_name, pkg_len)
		: pkg != NULL)
		return -ENOENT;
	return found;
}

/* ---- the wire format ------------------------------------------------------------------- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* zig-zag as protobuf's sint32: 0 -> 0, 1 -> 2, 2 -> 4 for the non-negative values used here */
static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

ssize_t sr_wire_prefix(uint32_t schema_id, int index, uint8_t *buf, size_t cap)
{
	uint8_t tmp[SR_WIRE_PREFIX_MAX];
	size_t n = 0;

	if (index < 0)
		return -EINVAL;
	tmp[n++] = 0; /* magic byte */
	tmp[n++] = schema_id >> 24;
	tmp[n++] = schema_id >> 16;
	tmp[n++] = schema_id >> 8;
	tmp[n++] = schema_id;
	if (index == 0) {
		tmp[n++] = 0; /* the path [0]: a single 0, no length */
	} else {
		n += put_varint(tmp + n, zigzag(1));
		n += put_varint(tmp + n, zigzag(index));
	}
	if (n > cap)
		return -ENOSPC;
	memcpy(buf, tmp, n);
	return (ssize_t)n;
}
