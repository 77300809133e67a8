/*
 * The authorisation questions proxyd asks chaind and the answers it gets
 * (IPC_ACL_CHECK; fields in docs/IPC.md).
 */
#ifndef FLYTRAP_ACL_H
#define FLYTRAP_ACL_H

enum acl_action {
	ACL_PUBLISH = 1, /* publish on a concrete topic name */
	ACL_SUBSCRIBE = 2, /* subscribe with a filter, or receive on a topic */
};

enum acl_verdict {
	ACL_ALLOW = 0,
	ACL_DENY = 1, /* no entry grants it, or the grant expired */
	ACL_UNAVAILABLE = 2, /* chaind cannot tell now: deny, do not cache */
};

#endif
