/*
 * IPC message codec: typed builders and readers for the msgpack bodies of
 * IPC frames, and the names of types and statuses for logs. The sockets
 * (framing on the wire, server, client) are in ipc_net.c.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"

/* ---- Names for logs ----------------------------------------------------- */

static const char *const ipc_type_names[IPC_TYPE_MAX] = {
    [IPC_ERROR_REPLY] = "ERROR_REPLY",
    [IPC_AUTH_TOKEN] = "AUTH_TOKEN",
    [IPC_AUTH_TOKEN_REPLY] = "AUTH_TOKEN_REPLY",
    [IPC_AUTH_CHALLENGE] = "AUTH_CHALLENGE",
    [IPC_AUTH_CHALLENGE_REPLY] = "AUTH_CHALLENGE_REPLY",
    [IPC_AUTH_RESPONSE] = "AUTH_RESPONSE",
    [IPC_AUTH_RESPONSE_REPLY] = "AUTH_RESPONSE_REPLY",
    [IPC_ACL_CHECK] = "ACL_CHECK",
    [IPC_ACL_CHECK_REPLY] = "ACL_CHECK_REPLY",
    [IPC_ACL_INVALIDATE] = "ACL_INVALIDATE",
    [IPC_STATUS] = "STATUS",
    [IPC_STATUS_REPLY] = "STATUS_REPLY",
    [IPC_TX_SUBMIT] = "TX_SUBMIT",
    [IPC_TX_SUBMIT_REPLY] = "TX_SUBMIT_REPLY",
    [IPC_CONN_CHECK] = "CONN_CHECK",
    [IPC_CONN_CHECK_REPLY] = "CONN_CHECK_REPLY",
    [IPC_STRIKE] = "STRIKE",
    [IPC_STRIKE_REPLY] = "STRIKE_REPLY",
    [IPC_BAN_NOTICE] = "BAN_NOTICE",
    [IPC_BAN_ADD] = "BAN_ADD",
    [IPC_BAN_REMOVE] = "BAN_REMOVE",
    [IPC_BAN_REPLY] = "BAN_REPLY",
    [IPC_BAN_LIST] = "BAN_LIST",
    [IPC_BAN_LIST_REPLY] = "BAN_LIST_REPLY",
    [IPC_AUTHD_STATUS] = "AUTHD_STATUS",
    [IPC_AUTHD_STATUS_REPLY] = "AUTHD_STATUS_REPLY",
    [IPC_ALERT] = "ALERT",
    [IPC_ALERT_REPLY] = "ALERT_REPLY",
    [IPC_BAN_SYNC] = "BAN_SYNC",
    [IPC_BAN_SYNC_REPLY] = "BAN_SYNC_REPLY",
    [IPC_ACCESS_BATCH] = "ACCESS_BATCH",
    [IPC_ACCESS_BATCH_REPLY] = "ACCESS_BATCH_REPLY",
    [IPC_REPORT_QUERY] = "REPORT_QUERY",
    [IPC_REPORT_QUERY_REPLY] = "REPORT_QUERY_REPLY",
    [IPC_AUDIT_QUERY] = "AUDIT_QUERY",
    [IPC_AUDIT_QUERY_REPLY] = "AUDIT_QUERY_REPLY",
    [IPC_ERASE] = "ERASE",
    [IPC_ERASE_REPLY] = "ERASE_REPLY",
    [IPC_METRICS] = "METRICS",
    [IPC_METRICS_REPLY] = "METRICS_REPLY",
};

/* Returns a static name for `s` ("unknown status" for values out of range). */
const char *
ipc_status_str(enum ipc_status s)
{
	switch (s) {
	case IPC_OK:
		return "ok";
	case IPC_ERR_DECODE:
		return "malformed message";
	case IPC_ERR_VERSION:
		return "IPC version mismatch";
	case IPC_ERR_TOO_LARGE:
		return "message too large";
	case IPC_ERR_DISCONNECTED:
		return "not connected";
	case IPC_ERR_TIMEOUT:
		return "timed out";
	case IPC_ERR_BUSY:
		return "too many requests in flight";
	}
	return "unknown status";
}

/* Returns a static name for `t` ("UNKNOWN" for values out of range). */
const char *
ipc_type_str(enum ipc_type t)
{
	if ((int)t <= 0 || t >= IPC_TYPE_MAX || ipc_type_names[t] == NULL)
		return "UNKNOWN";
	return ipc_type_names[t];
}

/* ---- Building messages -------------------------------------------------- */

/*
 * Most messages are a few dozen bytes: start small rather than with
 * msgpack-c's 8 KiB, which malloc serves far more slowly.
 */
#define IPC_WRITER_INITIAL 256

/*
 * msgpack-c reports a failed allocation through the packer's return value;
 * like every FlyTrap allocation failure, it is fatal.
 */
static void
ipc_pack_check(int rc)
{
	if (rc != 0)
		fatalx("ipc: out of memory building a message");
}

void
ipc_msg_begin(struct ipc_writer *w, enum ipc_type type, uint32_t id)
{
	static const char placeholder[4] = {0, 0, 0, 0};

	if ((int)type <= 0 || type >= IPC_TYPE_MAX)
		fatalx("ipc_msg_begin: bad message type %d", (int)type);
	msgpack_sbuffer_init(&w->buf);
	if ((w->buf.data = malloc(IPC_WRITER_INITIAL)) == NULL)
		fatal("ipc: malloc");
	w->buf.alloc = IPC_WRITER_INITIAL;
	msgpack_packer_init(&w->pk, &w->buf, msgpack_sbuffer_write);
	/* The length prefix, patched when the frame is sent. */
	ipc_pack_check(msgpack_sbuffer_write(&w->buf, placeholder, 4));
	ipc_pack_check(msgpack_pack_uint32(&w->pk, IPC_VERSION));
	ipc_pack_check(msgpack_pack_uint32(&w->pk, (uint32_t)type));
	ipc_pack_check(msgpack_pack_uint32(&w->pk, id));
}

void
ipc_put_u64(struct ipc_writer *w, uint64_t v)
{
	ipc_pack_check(msgpack_pack_uint64(&w->pk, v));
}

void
ipc_put_i64(struct ipc_writer *w, int64_t v)
{
	ipc_pack_check(msgpack_pack_int64(&w->pk, v));
}

void
ipc_put_bool(struct ipc_writer *w, bool v)
{
	ipc_pack_check(
	    v ? msgpack_pack_true(&w->pk) : msgpack_pack_false(&w->pk));
}

/*
 * msgpack lengths are 32-bit; anything near that is far over IPC_MAX_FRAME
 * and is refused when sent, but must not wrap the length here.
 */
static void
ipc_put_len_check(size_t len)
{
	if (len > UINT32_MAX)
		fatalx("ipc: field of %zu bytes", len);
}

void
ipc_put_str(struct ipc_writer *w, const char *s, size_t len)
{
	ipc_put_len_check(len);
	ipc_pack_check(msgpack_pack_str(&w->pk, len));
	ipc_pack_check(msgpack_pack_str_body(&w->pk, s, len));
}

void
ipc_put_bin(struct ipc_writer *w, const void *data, size_t len)
{
	ipc_put_len_check(len);
	ipc_pack_check(msgpack_pack_bin(&w->pk, len));
	ipc_pack_check(msgpack_pack_bin_body(&w->pk, data, len));
}

void
ipc_msg_discard(struct ipc_writer *w)
{
	msgpack_sbuffer_destroy(&w->buf);
	/* Leaves an empty buffer, so discarding twice is harmless. */
	msgpack_sbuffer_init(&w->buf);
}

/* ---- Reading messages --------------------------------------------------- */

/*
 * Whether the msgpack object starting with byte `b` is one a field may be:
 * an integer, a boolean, a string or binary data. Containers, floats, nil
 * and extensions are rejected from their first byte, before msgpack-c
 * would allocate room for a peer-declared number of elements.
 */
static bool
ipc_field_marker_ok(unsigned char b)
{
	if (b <= 0x7f || b >= 0xe0) /* positive / negative fixint */
		return true;
	if (b >= 0xa0 && b <= 0xbf) /* fixstr */
		return true;
	switch (b) {
	case 0xc2: /* false */
	case 0xc3: /* true */
	case 0xc4: /* bin 8, 16, 32 */
	case 0xc5:
	case 0xc6:
	case 0xcc: /* uint 8, 16, 32, 64 */
	case 0xcd:
	case 0xce:
	case 0xcf:
	case 0xd0: /* int 8, 16, 32, 64 */
	case 0xd1:
	case 0xd2:
	case 0xd3:
	case 0xd9: /* str 8, 16, 32 */
	case 0xda:
	case 0xdb:
		return true;
	default:
		return false;
	}
}

/*
 * Unpacks the next field into r->obj. Returns IPC_OK, or IPC_ERR_DECODE
 * when there is none, it is truncated, or it is not a scalar.
 */
static enum ipc_status
ipc_next(struct ipc_reader *r)
{
	msgpack_unpack_return rc;

	msgpack_unpacked_destroy(&r->obj);
	if (r->off >= r->len)
		return IPC_ERR_DECODE;
	if (!ipc_field_marker_ok((unsigned char)r->data[r->off]))
		return IPC_ERR_DECODE;
	rc = msgpack_unpack_next(&r->obj, r->data, r->len, &r->off);
	if (rc != MSGPACK_UNPACK_SUCCESS) {
		/* Never leave off pointing into the middle of an object. */
		r->off = r->len + 1;
		return IPC_ERR_DECODE;
	}
	return IPC_OK;
}

enum ipc_status
ipc_get_u64(struct ipc_reader *r, uint64_t *v)
{
	if (ipc_next(r) != IPC_OK ||
	    r->obj.data.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return IPC_ERR_DECODE;
	*v = r->obj.data.via.u64;
	return IPC_OK;
}

enum ipc_status
ipc_get_i64(struct ipc_reader *r, int64_t *v)
{
	if (ipc_next(r) != IPC_OK)
		return IPC_ERR_DECODE;
	switch (r->obj.data.type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (r->obj.data.via.u64 > INT64_MAX)
			return IPC_ERR_DECODE;
		*v = (int64_t)r->obj.data.via.u64;
		return IPC_OK;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*v = r->obj.data.via.i64;
		return IPC_OK;
	default:
		return IPC_ERR_DECODE;
	}
}

enum ipc_status
ipc_get_bool(struct ipc_reader *r, bool *v)
{
	if (ipc_next(r) != IPC_OK || r->obj.data.type != MSGPACK_OBJECT_BOOLEAN)
		return IPC_ERR_DECODE;
	*v = r->obj.data.via.boolean;
	return IPC_OK;
}

/*
 * The string is not NUL-terminated: it points into the frame, which the
 * reader does not own.
 */
enum ipc_status
ipc_get_str(struct ipc_reader *r, const char **s, size_t *len)
{
	if (ipc_next(r) != IPC_OK || r->obj.data.type != MSGPACK_OBJECT_STR)
		return IPC_ERR_DECODE;
	/* msgpack-c gives NULL for an empty string: callers may copy it. */
	*s = r->obj.data.via.str.size > 0 ? r->obj.data.via.str.ptr : "";
	*len = r->obj.data.via.str.size;
	return IPC_OK;
}

enum ipc_status
ipc_get_bin(struct ipc_reader *r, const void **data, size_t *len)
{
	if (ipc_next(r) != IPC_OK || r->obj.data.type != MSGPACK_OBJECT_BIN)
		return IPC_ERR_DECODE;
	*data = r->obj.data.via.bin.size > 0 ? r->obj.data.via.bin.ptr : "";
	*len = r->obj.data.via.bin.size;
	return IPC_OK;
}

enum ipc_status
ipc_get_end(struct ipc_reader *r)
{
	return r->off == r->len ? IPC_OK : IPC_ERR_DECODE;
}

/*
 * Reads the header: IPC_VERSION, then a type in 1..IPC_TYPE_MAX-1, then a
 * 32-bit id. Returns IPC_ERR_VERSION when the first field is an integer
 * other than IPC_VERSION, IPC_ERR_DECODE for anything else malformed. On
 * failure nothing is left to release (ipc_reader_done is still harmless).
 */
enum ipc_status
ipc_reader_init(struct ipc_reader *r, const char *body, size_t len)
{
	uint64_t version, type, id;

	memset(r, 0, sizeof(*r));
	msgpack_unpacked_init(&r->obj);
	r->data = body;
	r->len = len;
	r->off = 0;
	if (ipc_get_u64(r, &version) != IPC_OK)
		goto bad;
	if (version != IPC_VERSION) {
		ipc_reader_done(r);
		return IPC_ERR_VERSION;
	}
	if (ipc_get_u64(r, &type) != IPC_OK || type == 0 ||
	    type >= IPC_TYPE_MAX)
		goto bad;
	if (ipc_get_u64(r, &id) != IPC_OK || id > UINT32_MAX)
		goto bad;
	r->type = (enum ipc_type)type;
	r->id = (uint32_t)id;
	return IPC_OK;
bad:
	ipc_reader_done(r);
	return IPC_ERR_DECODE;
}

void
ipc_reader_done(struct ipc_reader *r)
{
	msgpack_unpacked_destroy(&r->obj);
}
