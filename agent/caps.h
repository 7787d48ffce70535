/* SPDX-License-Identifier: Apache-2.0 */
/* The capabilities the agent runs with (capget(2)), checked at start so that a missing one is
 * named instead of surfacing as EPERM from some later call. docs/deploy.md says which feature
 * needs which. */
#ifndef FLOWSCOPE_CAPS_H
#define FLOWSCOPE_CAPS_H

#include <stdint.h>

/* The effective capability set of the calling thread as a bit mask (bit N: capability N, as
 * in linux/capability.h). Returns 0 or -errno from capget. */
int caps_effective(uint64_t *out);

#endif /* FLOWSCOPE_CAPS_H */
