/*
 * One blocking IPC request and its reply, for command-line tools such as
 * `flytrapctl status`; the daemons use the event-driven client of ipc.h.
 */
#ifndef FLYTRAP_IPC_SYNC_H
#define FLYTRAP_IPC_SYNC_H

#include <stddef.h>

#include "ipc.h"

/*
 * Connects to the Unix socket at path, sends the message built in w (begun
 * with ipc_msg_begin and a non-zero id; this call writes the frame's length
 * prefix) and waits for the reply carrying the same id. Pushes (id 0) and
 * replies to other ids are skipped. Every step shares one deadline,
 * timeout_s from now. w is consumed (freed) in every case.
 *
 * Returns IPC_OK with *body (malloc'd; the caller frees it) and *len the
 * reply's frame body, ready for ipc_reader_init. Otherwise *body is NULL
 * and the status says why:
 * - IPC_ERR_DISCONNECTED: cannot connect (errno says why: ENOENT, EACCES,
 *   ECONNREFUSED, ENAMETOOLONG for a path too long for a socket address),
 *   or the peer closed the connection before replying (errno ECONNRESET);
 * - IPC_ERR_TIMEOUT: the deadline passed (errno ETIMEDOUT);
 * - IPC_ERR_TOO_LARGE: the request or the reply is over IPC_MAX_FRAME;
 * - IPC_ERR_VERSION / IPC_ERR_DECODE: a reply frame in another IPC
 *   version, or not a valid message (also: a request with id 0).
 */
enum ipc_status ipc_request_sync(const char *path, struct ipc_writer *w,
    double timeout_s, char **body, size_t *len) IPC_WUR;

#endif
