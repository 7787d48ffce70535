// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>
#include <bpf/libbpf.h>

#include <sys/epoll.h>

#include "clock.h"
#include "dns.h"
#include "dns_capture.h"
#include "dns_collector.h"
#include "dns_udp.h"
#include "flow.skel.h"
#include "flow_collector.h"
#include "log.h"
#include "loop.h"
#include "pipeline.h"

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
/* A DNS-over-TCP stream with no segment for this long is forgotten. */
#define TCP_STREAM_IDLE_NS (60ull * 1000000000ull)
/* UDP datagrams waiting for their next piece at once, and how long one waits before it is
 * taken as cut (its later pieces were lost to a full ring buffer). */
#define UDP_MAX_PENDING 64
#define UDP_PIECES_MAX_AGE_NS (1000ull * 1000000ull)

/* What the response or timeout record needs from its query. */
struct pending_query {
	uint32_t pid;
	char comm[16];
	uint8_t cgroup_version;
	uint16_t qtype;
	char qname[]; /* NUL-terminated */
};

/*
 * Which socket saw the exchange: the client's (query sent, response received) or the server's
 * (query received, response sent). Each side is matched on its own, so a client and a server in
 * the same cgroup, which see the same 5-tuples, do not take each other's queries.
 */
enum dns_side {
	SIDE_CLIENT = 0,
	SIDE_SERVER = 1,
};

static enum dns_side side_of(const struct dns_event *ev, bool is_response)
{
	bool egress = ev->flags & DNS_EV_F_EGRESS;

	return egress != is_response ? SIDE_CLIENT : SIDE_SERVER;
}

struct tcp_key {
	uint64_t cgroup_id;
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint8_t ip_version;
	uint8_t egress; /* both ends in one cgroup see the same bytes: one stream each */
	uint8_t pad[2];
};

/* One direction of a DNS-over-TCP connection. */
struct tcp_stream {
	struct tcp_key key;
	struct dns_tcp_stream *s;
	uint32_t next_seq;
	bool seq_known;
	uint64_t last_ns;
	UT_hash_handle hh;
};

struct dns_collector {
	struct dns_collector_opts opts;
	struct flow_collector *flows; /* its BPF counters of the DNS capture */
	struct ring_buffer *rb;
	struct loop *loop; /* once attached */
	struct pipeline *pipeline;
	int timer;
	struct dns_match *match[2]; /* enum dns_side */
	struct dns_names *names;
	struct tcp_stream *streams;
	unsigned int n_streams;
	struct dns_udp *udp; /* datagrams captured in several pieces */
	bool closing; /* dns_collector_destroy(): tearing down, emit nothing */
	struct dns_parse_stats parse_stats;
	struct dns_collector_stats stats;
	/* the ring-full warning: when the last window began, the kernel's count then */
	uint64_t ring_warn_from_ns;
	uint64_t ring_full_seen;
	/* the event being handled, for the TCP reassembly callback */
	const struct dns_event *cur;
	/* scratch: one parsed message and its rendered answers, grown to the largest seen */
	struct dns_msg msg;
	struct dns_answer_view *views;
	size_t views_cap;
	char *text; /* owner and data texts of views[], NUL-terminated, back to back */
	size_t text_cap;
};

static void tuple_of(const struct dns_event *ev, struct dns_tuple *t)
{
	memset(t, 0, sizeof(*t));
	t->cgroup_id = ev->cgroup_id;
	t->ip_version = ev->ip_version;
	t->proto = ev->proto;
	t->src_port = ev->sport;
	t->dst_port = ev->dport;
	memcpy(t->src_addr, ev->saddr, sizeof(t->src_addr));
	memcpy(t->dst_addr, ev->daddr, sizeof(t->dst_addr));
}

/* Into the pipeline (cgroup path and the rest are filled there); losses are counted there. */
static void emit(struct dns_collector *dc, struct dns_record *r)
{
	dc->stats.records++;
	if (dc->pipeline)
		pipeline_submit(dc->pipeline, &r->hdr);
}

/* Grows *buf to hold at least @need elements of @size; false when memory ran out. */
static bool grow(void **buf, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return true;
	while (n < need)
		n *= 2;
	p = realloc(*buf, n * size);
	if (!p)
		return false;
	*buf = p;
	*cap = n;
	return true;
}

/*
 * Renders every answer of dc->msg into dc->views (texts in dc->text, sized to the message);
 * returns how many. Only when memory runs out are fewer rendered: *cut is then set.
 */
static size_t render_answers(struct dns_collector *dc, bool *cut)
{
	const struct dns_msg *m = &dc->msg;
	char owner[DNS_NAME_TEXT_MAX], data[DNS_DATA_TEXT_MAX];
	size_t n, used = 0;

	if (!grow((void **)&dc->views, &dc->views_cap, m->n_answers, sizeof(*dc->views))) {
		*cut = true;
		dc->stats.answers_cut_nomem++;
		return 0;
	}
	for (n = 0; n < m->n_answers; n++) {
		const struct dns_rr *rr = &m->answers[n];
		size_t lo, ld;

		/* names were checked by dns_parse() and the buffers hold any rendering */
		if (dns_rr_owner(m, rr, owner, sizeof(owner)) != DNS_OK)
			owner[0] = '\0';
		if (dns_rr_data(m, rr, data, sizeof(data)) != DNS_OK)
			data[0] = '\0';
		lo = strlen(owner) + 1;
		ld = strlen(data) + 1;
		if (!grow((void **)&dc->text, &dc->text_cap, used + lo + ld, 1)) {
			*cut = true;
			dc->stats.answers_cut_nomem++;
			break;
		}
		memcpy(dc->text + used, owner, lo);
		memcpy(dc->text + used + lo, data, ld);
		/* offsets for now: dc->text may still move */
		dc->views[n] = (struct dns_answer_view){ .name = (const char *)used,
							 .type = rr->type,
							 .ttl = rr->ttl,
							 .data = (const char *)(used + lo) };
		used += lo + ld;
	}
	for (size_t i = 0; i < n; i++) {
		dc->views[i].name = dc->text + (size_t)dc->views[i].name;
		dc->views[i].data = dc->text + (size_t)dc->views[i].data;
	}
	return n;
}

/*
 * A response's record: the client (the query's sender) is src, which on the response packet is
 * the destination.
 */
static void response_record(const struct dns_event *ev, struct dns_record *r)
{
	memset(r, 0, sizeof(*r));
	r->type = RECORD_DNS;
	r->ts_ns = clock_boot_to_epoch_ns(ev->ts_ns);
	r->cgroup_id = ev->cgroup_id;
	r->cgroup_version = ev->flags & DNS_EV_F_CGROUP_V1 ? 1 : 2;
	r->pid = ev->pid;
	memcpy(r->comm, ev->comm, sizeof(r->comm));
	r->comm[sizeof(r->comm) - 1] = '\0';
	r->ip_version = ev->ip_version;
	r->proto = ev->proto;
	memcpy(r->src_addr.bytes, ev->daddr, 16);
	r->src_port = ev->dport;
	memcpy(r->dst_addr.bytes, ev->saddr, 16);
	r->dst_port = ev->sport;
}

static void on_query(struct dns_collector *dc, const struct dns_event *ev,
		     const struct dns_tuple *t)
{
	const struct dns_msg *m = &dc->msg;
	size_t qlen = strlen(m->qname);
	struct pending_query *pq = malloc(sizeof(*pq) + qlen + 1);
	enum dns_status st;

	dc->stats.queries++;
	if (!pq) {
		dc->stats.pending_full++;
		return;
	}
	pq->pid = ev->pid;
	pq->cgroup_version = ev->flags & DNS_EV_F_CGROUP_V1 ? 1 : 2;
	memcpy(pq->comm, ev->comm, sizeof(pq->comm));
	pq->comm[sizeof(pq->comm) - 1] = '\0';
	pq->qtype = m->qtype;
	memcpy(pq->qname, m->qname, qlen + 1);
	st = dns_match_query(dc->match[side_of(ev, false)], t, m->id, ev->ts_ns, pq);
	if (st == DNS_OK)
		return;
	if (st == DNS_ERR_DUPLICATE)
		dc->stats.duplicate_queries++;
	else
		dc->stats.pending_full++;
	free(pq);
}

/*
 * A response; when it did not parse (cut by the capture), raw is its header (RFC 1035 §4.1.1:
 * ID in octets 0-1, RCODE in the low bits of octet 3) and the query supplies the question.
 */
static void on_response(struct dns_collector *dc, const struct dns_event *ev,
			const struct dns_tuple *t, const uint8_t *raw, bool parsed,
			bool capture_truncated)
{
	const struct dns_msg *m = &dc->msg;
	struct pending_query *pq = NULL;
	struct dns_record r;
	uint64_t query_ts;
	uint16_t id = parsed ? m->id : (uint16_t)(raw[0] << 8 | raw[1]);
	bool cut = false;

	dc->stats.responses++;
	response_record(ev, &r);
	r.id = id;
	if (dns_match_response(dc->match[side_of(ev, true)], t, id, &query_ts, (void **)&pq) ==
	    DNS_OK) {
		r.latency_ns = ev->ts_ns - query_ts;
		r.latency_known = ev->ts_ns >= query_ts;
	} else {
		dc->stats.unmatched_responses++;
	}
	if (parsed) {
		r.qname = m->qname;
		r.qtype = m->qtype;
		r.rcode = m->rcode;
		r.n_answers = render_answers(dc, &cut);
		r.answers = dc->views;
		r.truncated = m->tc || capture_truncated || m->answers_truncated || cut;
		/* names come only from answers to this cgroup's own queries: a server's outgoing
		 * answers, or an unsolicited response, must not name its flows */
		if (pq && side_of(ev, true) == SIDE_CLIENT)
			dns_names_learn(dc->names, ev->cgroup_id, m, ev->ts_ns);
	} else {
		/* cut by the capture: what the header and the query tell */
		r.rcode = raw[3] & 0x0f;
		r.truncated = true;
		if (pq) {
			r.qname = pq->qname;
			r.qtype = pq->qtype;
		}
	}
	emit(dc, &r);
	free(pq);
}

/* One complete DNS message from event ev (UDP datagram or reassembled TCP message). */
static void on_message(struct dns_collector *dc, const struct dns_event *ev, const uint8_t *msg,
		       size_t len, bool capture_truncated)
{
	struct dns_tuple t;
	enum dns_status st;

	tuple_of(ev, &t);
	dc->stats.messages++;
	/* a message cut by the capture keeps its header, question and every answer that fits */
	if (capture_truncated)
		st = dns_parse_cut(msg, len, &dc->msg, &dc->parse_stats);
	else
		st = dns_parse(msg, len, &dc->msg, &dc->parse_stats);
	if (st != DNS_OK) {
		/* cut inside the question: report the response from its header, as truncated */
		if (capture_truncated && len >= 12 && (msg[2] & 0x80))
			on_response(dc, ev, &t, msg, false, true);
		else
			dc->stats.parse_errors++;
		return;
	}
	if (!dc->msg.qr)
		on_query(dc, ev, &t);
	else
		on_response(dc, ev, &t, msg, true, capture_truncated);
}

static void on_tcp_message(const uint8_t *msg, size_t len, void *arg)
{
	struct dns_collector *dc = arg;

	on_message(dc, dc->cur, msg, len, false);
}

/* A DNS-over-TCP message that lost octets: the answers that arrived whole still count. */
static void on_tcp_cut(const uint8_t *msg, size_t have, size_t len, void *arg)
{
	struct dns_collector *dc = arg;

	(void)len;
	on_message(dc, dc->cur, msg, have, true);
}

/* A UDP datagram's message from its pieces; key is the start of its first dns_event. */
static void on_udp_message(const void *key, const uint8_t *msg, size_t len, size_t wire_len,
			   void *arg)
{
	struct dns_collector *dc = arg;
	struct dns_event ev;

	if (dc->closing)
		return;
	if (len == 0) { /* no byte of the message was captured: an event the capture never makes */
		dc->stats.bad_events++;
		return;
	}
	memset(&ev, 0, offsetof(struct dns_event, payload));
	memcpy(&ev, key, DNS_EVENT_KEY_LEN);
	on_message(dc, &ev, msg, len, len < wire_len);
}

static void on_udp_piece(struct dns_collector *dc, const struct dns_event *ev)
{
	const struct dns_udp_piece piece = {
		.key = ev,
		.key_len = DNS_EVENT_KEY_LEN,
		.offset = ev->offset,
		.wire_len = ev->payload_len,
		.data = ev->payload,
		.len = ev->cap_len,
		.last = ev->piece_flags & DNS_PIECE_F_LAST,
	};

	if (dns_udp_add(dc->udp, &piece, ev->ts_ns) == DNS_ERR_INVAL)
		dc->stats.bad_events++;
}

static void drop_stream(struct dns_collector *dc, struct tcp_stream *ts)
{
	struct dns_tcp_stats st;

	dns_tcp_get_stats(ts->s, &st);
	/* a cut message handed over gave a record (or a counted parse error) */
	dc->stats.tcp_messages_lost += st.messages_lost - st.messages_cut;
	HASH_DEL(dc->streams, ts);
	dns_tcp_destroy(ts->s);
	free(ts);
	dc->n_streams--;
}

/*
 * Bytes of the stream that were not captured. When they hold a length prefix, the framing is
 * lost: it is picked up again at the next segment, since servers write each message (prefix
 * included) with its own send; a segment that does not start a message then fails to parse and
 * is counted.
 */
static void tcp_gap(struct dns_collector *dc, struct tcp_stream *ts, uint32_t missing)
{
	dc->stats.tcp_bytes_missing += missing;
	if (dns_tcp_missing(ts->s, missing) == DNS_ERR_DESYNC) {
		dc->stats.tcp_resyncs++;
		dns_tcp_reset(ts->s);
	}
}

static void on_tcp_segment(struct dns_collector *dc, const struct dns_event *ev)
{
	struct tcp_key key = { 0 };
	struct tcp_stream *ts;
	uint32_t seq = ev->tcp_seq, len = ev->payload_len, cap = ev->cap_len;
	const uint8_t *data = ev->payload;

	key.cgroup_id = ev->cgroup_id;
	memcpy(key.saddr, ev->saddr, 16);
	memcpy(key.daddr, ev->daddr, 16);
	key.sport = ev->sport;
	key.dport = ev->dport;
	key.ip_version = ev->ip_version;
	key.egress = !!(ev->flags & DNS_EV_F_EGRESS);
	HASH_FIND(hh, dc->streams, &key, sizeof(key), ts);

	if (ev->tcp_flags & TCP_FLAG_SYN) {
		if (ts)
			drop_stream(dc, ts);
		ts = NULL;
	}
	if (!ts && len > 0) {
		if (dc->n_streams >= dc->opts.max_tcp_streams) {
			dc->stats.tcp_streams_full++;
			return;
		}
		ts = calloc(1, sizeof(*ts));
		if (!ts || !(ts->s = dns_tcp_create(on_tcp_message, dc))) {
			free(ts);
			dc->stats.tcp_streams_full++;
			return;
		}
		dns_tcp_on_cut(ts->s, on_tcp_cut);
		ts->key = key;
		HASH_ADD(hh, dc->streams, key, sizeof(ts->key), ts);
		dc->n_streams++;
	}
	if (!ts)
		return;
	ts->last_ns = ev->ts_ns;
	if (len > 0) {
		if (!ts->seq_known) {
			ts->next_seq = seq;
			ts->seq_known = true;
		}
		int32_t ahead = (int32_t)(seq - ts->next_seq);

		dc->cur = ev;
		if (ahead > 0) {
			/* a segment we did not see */
			tcp_gap(dc, ts, (uint32_t)ahead);
			ts->next_seq = seq;
		} else if (ahead < 0) {
			/* retransmission: skip what was already fed */
			uint32_t old = (uint32_t)-ahead;

			if (old >= len)
				goto flags;
			data += old < cap ? old : cap;
			cap = old < cap ? cap - old : 0;
			len -= old;
		}
		if (cap)
			dns_tcp_feed(ts->s, data, cap);
		if (len > cap)
			tcp_gap(dc, ts, len - cap);
		ts->next_seq += len;
	}
flags:
	if (ev->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
		drop_stream(dc, ts);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct dns_collector *dc = ctx;
	const struct dns_event *ev = data;

	dc->stats.events++;
	if (size < offsetof(struct dns_event, payload) || ev->cap_len > DNS_CAPTURE_MAX ||
	    ev->cap_len > size - offsetof(struct dns_event, payload)) {
		dc->stats.bad_events++;
		return 0;
	}
	if (ev->piece_flags & DNS_PIECE_F_TRUNCATED)
		dc->stats.truncated_captures++;
	if (ev->proto == IPPROTO_UDP) {
		on_udp_piece(dc, ev);
	} else if (ev->proto == IPPROTO_TCP) {
		on_tcp_segment(dc, ev);
	} else {
		dc->stats.bad_events++;
	}
	return 0;
}

int dns_collector_create(struct flow_collector *fc, const struct dns_collector_opts *opts,
			 struct dns_collector **out)
{
	struct flow_bpf *skel = flow_collector_skel(fc);
	struct dns_collector *dc = calloc(1, sizeof(*dc));
	int ret = -ENOMEM;

	if (!dc)
		return -ENOMEM;
	dc->opts = *opts;
	dc->flows = fc;
	dc->match[SIDE_CLIENT] = dns_match_create(opts->max_pending, free);
	dc->match[SIDE_SERVER] = dns_match_create(opts->max_pending, free);
	dc->names = dns_names_create(opts->max_names, opts->min_hold_ns);
	dc->udp = dns_udp_create(UDP_MAX_PENDING, on_udp_message, dc);
	if (!dc->match[SIDE_CLIENT] || !dc->match[SIDE_SERVER] || !dc->names || !dc->udp)
		goto fail;
	dc->rb = ring_buffer__new(bpf_map__fd(skel->maps.dns_events), on_event, dc, NULL);
	if (!dc->rb) {
		ret = -errno;
		goto fail;
	}
	*out = dc;
	return 0;
fail:
	dns_collector_destroy(dc);
	return ret;
}

void dns_collector_destroy(struct dns_collector *dc)
{
	struct tcp_stream *ts, *tmp;

	if (!dc)
		return;
	if (dc->loop) {
		loop_del_fd(dc->loop, ring_buffer__epoll_fd(dc->rb));
		if (dc->timer)
			loop_del_timer(dc->loop, dc->timer);
	}
	ring_buffer__free(dc->rb);
	/* datagrams still waiting for pieces give no record: the exit log counted them (the
	 * dns_udp_pending gauge) */
	dc->closing = true;
	dns_udp_destroy(dc->udp);
	HASH_ITER(hh, dc->streams, ts, tmp)
	drop_stream(dc, ts);
	dns_match_destroy(dc->match[SIDE_CLIENT]);
	dns_match_destroy(dc->match[SIDE_SERVER]);
	dns_names_destroy(dc->names);
	free(dc->views);
	free(dc->text);
	free(dc);
}

int dns_collector_consume(struct dns_collector *dc)
{
	return ring_buffer__consume(dc->rb);
}

static void on_timeout(const struct dns_tuple *q, uint16_t id, uint64_t ts_ns, void *user,
		       void *arg)
{
	struct dns_collector *dc = arg;
	struct pending_query *pq = user;
	struct dns_record r = { 0 };

	dc->stats.timeouts++;
	r.type = RECORD_DNS;
	r.ts_ns = clock_boot_to_epoch_ns(ts_ns + dc->opts.timeout_ns);
	r.cgroup_id = q->cgroup_id;
	r.cgroup_version = pq->cgroup_version;
	r.pid = pq->pid;
	memcpy(r.comm, pq->comm, sizeof(r.comm));
	r.ip_version = q->ip_version;
	r.proto = q->proto;
	memcpy(r.src_addr.bytes, q->src_addr, 16);
	r.src_port = q->src_port;
	memcpy(r.dst_addr.bytes, q->dst_addr, 16);
	r.dst_port = q->dst_port;
	r.id = id;
	r.qname = pq->qname;
	r.qtype = pq->qtype;
	r.rcode = DNS_RCODE_TIMEOUT;
	r.timeout = true;
	emit(dc, &r);
	free(pq);
}

void dns_collector_expire(struct dns_collector *dc, uint64_t now_boot_ns)
{
	struct tcp_stream *ts, *tmp;

	dns_match_expire(dc->match[SIDE_CLIENT], now_boot_ns, dc->opts.timeout_ns, on_timeout, dc);
	dns_match_expire(dc->match[SIDE_SERVER], now_boot_ns, dc->opts.timeout_ns, on_timeout, dc);
	dns_udp_expire(dc->udp, now_boot_ns, UDP_PIECES_MAX_AGE_NS);
	HASH_ITER(hh, dc->streams, ts, tmp)
	{
		if (now_boot_ns - ts->last_ns > TCP_STREAM_IDLE_NS)
			drop_stream(dc, ts);
	}
}

const char *dns_collector_name_for(struct dns_collector *dc, uint64_t cgroup_id, uint8_t ip_version,
				   const uint8_t addr[16], uint64_t now_boot_ns,
				   uint64_t at_boot_ns)
{
	return dns_names_lookup_at(dc->names, cgroup_id, ip_version, addr, now_boot_ns, at_boot_ns);
}

void dns_collector_get_stats(const struct dns_collector *dc, struct dns_collector_stats *out)
{
	struct dns_names_stats ns;
	struct dns_match_stats ms;
	struct dns_udp_stats us;

	*out = dc->stats;
	dns_udp_get_stats(dc->udp, &us);
	out->udp_incomplete = us.incomplete;
	out->udp_pieces_dropped = us.orphan_pieces + us.nomem;
	out->udp_pending = dns_udp_pending(dc->udp);
	out->pending = 0;
	for (int side = SIDE_CLIENT; side <= SIDE_SERVER; side++) {
		dns_match_get_stats(dc->match[side], &ms);
		out->pending += ms.pending;
	}
	dns_names_get_stats(dc->names, &ns);
	out->names_entries = ns.entries;
	out->names_evictions = ns.evictions;
	out->names_expirations = ns.expirations;
	out->names_learn_nomem = ns.learn_nomem;
	out->answers_cut_capture = dc->parse_stats.answers_truncated;
}

void dns_collector_log_parse_errors(const struct dns_collector *dc)
{
	for (int i = DNS_OK + 1; i < DNS_STATUS_COUNT; i++) {
		if (dc->parse_stats.by_status[i])
			LOG_INFO("dns parse errors: %s: %llu", dns_status_str(i),
				 (unsigned long long)dc->parse_stats.by_status[i]);
	}
}

static void on_ringbuf(struct loop *l, int fd, uint32_t events, void *arg)
{
	(void)l, (void)fd, (void)events;
	dns_collector_consume(arg);
}

/*
 * At most once per warn_interval_ns: a warning when the kernel dropped DNS packets because the
 * ring buffer was full since the last window (the counter alone is easy to miss).
 */
static void warn_ring_full(struct dns_collector *dc, uint64_t now_ns)
{
	uint64_t window = dc->opts.warn_interval_ns ? dc->opts.warn_interval_ns : 1000000000ull;
	uint64_t k[FLOW_STAT_MAX];

	/* the 1 s timer may fire a little early: 100 ms of slack */
	if (now_ns + 100000000ull - dc->ring_warn_from_ns < window)
		return;
	if (flow_collector_stats(dc->flows, k))
		return;
	if (k[FLOW_STAT_DNS_RINGBUF_FULL] > dc->ring_full_seen)
		LOG_WARN("DNS ring buffer full: %llu DNS packets dropped in the last %llu s "
			 "(flowscope_dns_dropped_total{reason=\"ringbuf_full\"}); raise "
			 "--dns-ringbuf-bytes (now %u)",
			 (unsigned long long)(k[FLOW_STAT_DNS_RINGBUF_FULL] - dc->ring_full_seen),
			 (unsigned long long)((now_ns - dc->ring_warn_from_ns + 500000000ull) /
					      1000000000ull),
			 bpf_map__max_entries(flow_collector_skel(dc->flows)->maps.dns_events));
	dc->ring_full_seen = k[FLOW_STAT_DNS_RINGBUF_FULL];
	dc->ring_warn_from_ns = now_ns;
}

/* Once a second: what the ring buffer holds (wakeups can be late), then the timeouts. */
static void on_tick(struct loop *l, uint64_t expirations, void *arg)
{
	(void)l, (void)expirations;
	dns_collector_consume(arg);
	dns_collector_expire(arg, clock_boot_ns());
	warn_ring_full(arg, clock_mono_ns());
}

int dns_collector_attach(struct dns_collector *dc, struct loop *l, struct pipeline *p)
{
	int ret;

	dc->pipeline = p;
	ret = loop_add_fd(l, ring_buffer__epoll_fd(dc->rb), EPOLLIN, on_ringbuf, dc);
	if (ret)
		return ret;
	dc->loop = l;
	ret = loop_add_timer(l, 1000, on_tick, dc);
	if (ret < 0)
		return ret;
	dc->timer = ret;
	dc->ring_warn_from_ns = clock_mono_ns();
	return 0;
}

struct dns_snap {
	struct dns_collector_stats ds;
	uint64_t k[FLOW_STAT_MAX];
};

#define ROW(name, type, help, labels, field) \
	COUNTER_ROW(name, type, help, labels, struct dns_snap, field)
#define DROPPED "DNS packets or messages that yielded no record, by reason."
#define MESSAGES "DNS messages by kind."
#define ANSWERS_CUT "DNS records with fewer answers than the response's ANCOUNT, by reason."

static const struct counter_desc dns_counters[] = {
	ROW("flowscope_dns_packets_total", COUNTER_COUNTER,
	    "DNS events handed to user space: pieces of up to 1536 payload bytes of DNS packets.",
	    "", k[FLOW_STAT_DNS_EVENTS]),
	ROW("flowscope_dns_dropped_total", COUNTER_COUNTER, DROPPED, "reason=\"ringbuf_full\"",
	    k[FLOW_STAT_DNS_RINGBUF_FULL]),
	ROW("flowscope_dns_dropped_total", COUNTER_COUNTER, DROPPED, "reason=\"parse_error\"",
	    ds.parse_errors),
	ROW("flowscope_dns_dropped_total", COUNTER_COUNTER, DROPPED, "reason=\"pending_full\"",
	    ds.pending_full),
	ROW("flowscope_dns_dropped_total", COUNTER_COUNTER, DROPPED, "reason=\"tcp_streams_full\"",
	    ds.tcp_streams_full),
	ROW("flowscope_dns_dropped_total", COUNTER_COUNTER, DROPPED,
	    "reason=\"tcp_message_incomplete\"", ds.tcp_messages_lost),
	ROW("flowscope_dns_dropped_total", COUNTER_COUNTER, DROPPED, "reason=\"tcp_stream_gap\"",
	    ds.tcp_resyncs),
	ROW("flowscope_dns_dropped_total", COUNTER_COUNTER, DROPPED, "reason=\"udp_piece_dropped\"",
	    ds.udp_pieces_dropped),
	ROW("flowscope_dns_dropped_total", COUNTER_COUNTER, DROPPED, "reason=\"bad_event\"",
	    ds.bad_events),
	ROW("flowscope_dns_capture_truncated_total", COUNTER_COUNTER,
	    "DNS packets longer than --dns-capture-max-bytes, cut by the capture.", "",
	    k[FLOW_STAT_DNS_TRUNCATED]),
	ROW("flowscope_dns_udp_incomplete_total", COUNTER_COUNTER,
	    "UDP DNS datagrams whose later pieces were lost (ring buffer full), parsed as "
	    "captured.",
	    "", ds.udp_incomplete),
	ROW("flowscope_dns_udp_pending", COUNTER_GAUGE,
	    "UDP DNS datagrams waiting for their next capture piece.", "", ds.udp_pending),
	ROW("flowscope_dns_messages_total", COUNTER_COUNTER, MESSAGES, "kind=\"query\"",
	    ds.queries),
	ROW("flowscope_dns_messages_total", COUNTER_COUNTER, MESSAGES, "kind=\"response\"",
	    ds.responses),
	ROW("flowscope_dns_messages_total", COUNTER_COUNTER, MESSAGES,
	    "kind=\"unmatched_response\"", ds.unmatched_responses),
	ROW("flowscope_dns_messages_total", COUNTER_COUNTER, MESSAGES, "kind=\"duplicate_query\"",
	    ds.duplicate_queries),
	ROW("flowscope_dns_messages_total", COUNTER_COUNTER, MESSAGES, "kind=\"timeout\"",
	    ds.timeouts),
	ROW("flowscope_dns_queries_pending", COUNTER_GAUGE,
	    "DNS queries awaiting a response or their timeout.", "", ds.pending),
	ROW("flowscope_dns_records_total", COUNTER_COUNTER, "DNS records exported.", "",
	    ds.records),
	ROW("flowscope_dns_names", COUNTER_GAUGE, "Addresses with a known name.", "",
	    ds.names_entries),
	ROW("flowscope_dns_names_evicted_total", COUNTER_COUNTER,
	    "Names evicted by the cache bound.", "", ds.names_evictions),
	ROW("flowscope_dns_answers_cut_total", COUNTER_COUNTER, ANSWERS_CUT, "reason=\"capture\"",
	    ds.answers_cut_capture),
	ROW("flowscope_dns_answers_cut_total", COUNTER_COUNTER, ANSWERS_CUT, "reason=\"no_memory\"",
	    ds.answers_cut_nomem),
	ROW("flowscope_dns_names_learn_failed_total", COUNTER_COUNTER,
	    "DNS responses whose addresses were not learnt: no memory for the answer walk.", "",
	    ds.names_learn_nomem),
};

const struct counter_desc *dns_collector_counter_descs(size_t *n)
{
	*n = sizeof(dns_counters) / sizeof(dns_counters[0]);
	return dns_counters;
}

static int snapshot(void *arg, void *out)
{
	struct dns_collector *dc = arg;
	struct dns_snap *s = out;

	dns_collector_get_stats(dc, &s->ds);
	return flow_collector_stats(dc->flows, s->k);
}

int dns_collector_register_counters(struct dns_collector *dc, struct counters *reg)
{
	struct counters_group g = {
		COUNTERS_GROUP("dns", dns_counters, struct dns_snap, snapshot, dc),
	};

	return counters_register(reg, &g);
}
