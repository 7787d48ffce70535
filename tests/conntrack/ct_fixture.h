/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the conntrack tests and bench: tuples from text, entries created in a netns. */
#ifndef FLOWSCOPE_CT_FIXTURE_H
#define FLOWSCOPE_CT_FIXTURE_H

#include <stdint.h>
#include <time.h>

#include "ct.h"

struct ct_fixture;

/* A tuple from text addresses (family taken from the address), ports in host order. */
struct ct_tuple fx_tuple(uint8_t proto, const char *src, uint16_t sport, const char *dst,
			 uint16_t dport);

static inline uint64_t fx_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * A ctnetlink socket opened inside netns_path (NULL: our own namespace), for creating and deleting
 * entries with IPCTNL_MSG_CT_NEW / IPCTNL_MSG_CT_DELETE. Returns 0 or -errno.
 */
int fx_open(const char *netns_path, struct ct_fixture **out);
void fx_close(struct ct_fixture *fx);

/*
 * Queue the creation of an entry with these tuples (timeout 3600 s; TCP entries ESTABLISHED).
 * Requests are sent in batches; fx_flush() sends the rest and waits for every ack.
 * Returns 0 or -errno of the first failed request.
 */
int fx_create(struct ct_fixture *fx, const struct ct_tuple *orig_tuple,
	      const struct ct_tuple *reply_tuple);
int fx_delete(struct ct_fixture *fx, const struct ct_tuple *orig_tuple);
int fx_flush(struct ct_fixture *fx);

/*
 * The highest-numbered NETLINK_NETFILTER socket of this process bound to no multicast group
 * (the last one opened: a library's GET socket when it was opened after every other), or
 * -ENOENT.
 */
int fx_last_netfilter_socket(void);

/*
 * Send a point GET for t (TCP/UDP/SCTP) with sequence number seq and NLM_F_ACK on fd, someone
 * else's socket: its answer (and ack) then wait in that socket as a late answer would.
 * Returns 0 or -errno.
 */
int fx_send_get(int fd, const struct ct_tuple *t, uint32_t seq);

#endif /* FLOWSCOPE_CT_FIXTURE_H */
