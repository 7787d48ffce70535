// SPDX-License-Identifier: Apache-2.0
/* Text forms of parsed DNS data: RR owner and data, TYPE and RCODE mnemonics. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "dns_wire.h"

enum dns_status dns_rr_owner(const struct dns_msg *msg, const struct dns_rr *rr, char *buf,
			     size_t size)
{
	if (!msg || !rr || !buf || !size)
		return DNS_ERR_INVAL;
	return dns_name_text(msg->wire, msg->len, rr->name_off, buf, size);
}

/* "<n1> <n2> <n3> <name>" for SRV (nums = 3) and MX (nums = 1). */
static enum dns_status numbers_name(const struct dns_msg *msg, const uint16_t *nums, int n_nums,
				    uint16_t name_off, char *buf, size_t size)
{
	size_t used = 0;

	for (int i = 0; i < n_nums; i++) {
		int n = snprintf(buf + used, size - used, "%u ", nums[i]);

		if (n < 0 || (size_t)n >= size - used)
			return DNS_ERR_INVAL;
		used += (size_t)n;
	}
	return dns_name_text(msg->wire, msg->len, name_off, buf + used, size - used);
}

enum dns_status dns_rr_data(const struct dns_msg *msg, const struct dns_rr *rr, char *buf,
			    size_t size)
{
	uint16_t nums[3];

	if (!msg || !rr || !buf || !size)
		return DNS_ERR_INVAL;
	switch (rr->type) {
	case DNS_TYPE_A:
		return inet_ntop(AF_INET, rr->data.a, buf, (socklen_t)size) ? DNS_OK
									    : DNS_ERR_INVAL;
	case DNS_TYPE_AAAA:
		return inet_ntop(AF_INET6, rr->data.aaaa, buf, (socklen_t)size) ? DNS_OK
										: DNS_ERR_INVAL;
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
	case DNS_TYPE_NS:
		return dns_name_text(msg->wire, msg->len, rr->data.target_off, buf, size);
	case DNS_TYPE_MX:
		nums[0] = rr->data.mx.preference;
		return numbers_name(msg, nums, 1, rr->data.mx.exchange_off, buf, size);
	case DNS_TYPE_SRV:
		nums[0] = rr->data.srv.priority;
		nums[1] = rr->data.srv.weight;
		nums[2] = rr->data.srv.port;
		return numbers_name(msg, nums, 3, rr->data.srv.target_off, buf, size);
	default:
		buf[0] = '\0';
		return DNS_OK;
	}
}

const char *dns_type_name(uint16_t type, char buf[12])
{
	switch (type) {
	case DNS_TYPE_A:
		return "A";
	case DNS_TYPE_NS:
		return "NS";
	case DNS_TYPE_CNAME:
		return "CNAME";
	case DNS_TYPE_SOA:
		return "SOA";
	case DNS_TYPE_PTR:
		return "PTR";
	case DNS_TYPE_MX:
		return "MX";
	case DNS_TYPE_TXT:
		return "TXT";
	case DNS_TYPE_AAAA:
		return "AAAA";
	case DNS_TYPE_SRV:
		return "SRV";
	case DNS_TYPE_OPT:
		return "OPT";
	case DNS_TYPE_SVCB:
		return "SVCB";
	case DNS_TYPE_HTTPS:
		return "HTTPS";
	case DNS_TYPE_ANY:
		return "ANY";
	case 35:
		return "NAPTR";
	case 39:
		return "DNAME";
	case 43:
		return "DS";
	case 46:
		return "RRSIG";
	case 47:
		return "NSEC";
	case 48:
		return "DNSKEY";
	case 50:
		return "NSEC3";
	case 52:
		return "TLSA";
	case 257:
		return "CAA";
	default:
		/* RFC 3597 §5: unknown types are written TYPE<decimal>. */
		snprintf(buf, 12, "TYPE%u", type);
		return buf;
	}
}

/* RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 8490 §10.2, RFC 6891 §9, RFC 2845, RFC 7873. */
static const char *const rcode_names[] = {
	"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",   "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE",  "DSOTYPENI",
	NULL,	    NULL,      NULL,	   NULL,       "BADVERS",  "BADKEY",
	"BADTIME",  "BADMODE", "BADNAME",  "BADALG",   "BADTRUNC", "BADCOOKIE",
};

const char *dns_rcode_name(uint16_t rcode, char buf[12])
{
	if (rcode < sizeof(rcode_names) / sizeof(rcode_names[0]) && rcode_names[rcode])
		return rcode_names[rcode];
	snprintf(buf, 12, "RCODE%u", rcode);
	return buf;
}
