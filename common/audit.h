/*
 * Access records of sensitive topics and the Merkle tree over them, as
 * proxyd, reportd and flytrapctl share them (docs/AUDIT.md).
 */
#ifndef FLYTRAP_AUDIT_H
#define FLYTRAP_AUDIT_H

#include <stddef.h>
#include <stdint.h>

enum access_action {
	ACCESS_PUBLISH = 1, /* a PUBLISH the client sent, allowed */
	ACCESS_SUBSCRIBE = 2, /* a SUBSCRIBE filter, allowed */
	ACCESS_DELIVERY = 3, /* a PUBLISH delivered to the client */
};

#endif
