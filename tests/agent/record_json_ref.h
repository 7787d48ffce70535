/* SPDX-License-Identifier: Apache-2.0 */
/* Reference JSON encoder (record_json_ref.c): same contract as record_json_flow/_dns. */
#ifndef FLOWSCOPE_RECORD_JSON_REF_H
#define FLOWSCOPE_RECORD_JSON_REF_H

#include "record_json.h"

ssize_t ref_record_json_flow(char *buf, size_t cap, const struct record_json_ctx *ctx,
			     const struct flow_record *r);
ssize_t ref_record_json_dns(char *buf, size_t cap, const struct record_json_ctx *ctx,
			    const struct dns_record *r);

#endif /* FLOWSCOPE_RECORD_JSON_REF_H */
