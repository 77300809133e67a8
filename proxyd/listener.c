/*
 * proxyd's listening sockets: one per configured address, accepting every
 * pending connection on each wake-up, and backing off when out of file
 * descriptors instead of spinning.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "proxyd.h"

struct listener {
	struct listener *next;
	struct proxyd *px;
	int fd;
	ev_io io;
	ev_timer backoff;
	bool proxy_header; /* every connection starts with a PROXY header */
	char name[80];
};

bool
proxyd_resolve(
    const char *spec, bool passive, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints, *res;
	char host[256];
	const char *port, *colon;
	size_t hlen;
	int rc;

	if (spec[0] == '[') {
		colon = strstr(spec, "]:");
		if (colon == NULL)
			return false;
		hlen = (size_t)(colon - spec - 1);
		memcpy(host, spec + 1, hlen < sizeof(host) ? hlen : 0);
		port = colon + 2;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL)
			return false;
		hlen = (size_t)(colon - spec);
		memcpy(host, spec, hlen < sizeof(host) ? hlen : 0);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host) || *port == '\0')
		return false;
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_err("%s: %s", spec, gai_strerror(rc));
		return false;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

static void
listener_on_backoff(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct listener *l = w->data;

	(void)revents;
	ev_io_start(loop, &l->io);
}

static void
listener_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	(void)revents;
	for (;;) {
		len = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			session_accept(l->px, fd, (struct sockaddr *)&ss, len,
			    l->proxy_header);
			continue;
		}
		switch (errno) {
		case EAGAIN:
		case EINTR:
		case ECONNABORTED:
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* Pending clients wait in the backlog meanwhile. */
			log_warn("accept on %s: %s; pausing 100 ms", l->name,
			    strerror(errno));
			ev_io_stop(loop, &l->io);
			ev_timer_set(&l->backoff, 0.1, 0.);
			ev_timer_start(loop, &l->backoff);
			return;
		default:
			log_warn("accept on %s: %s", l->name, strerror(errno));
			return;
		}
	}
}

static bool
listener_open(struct proxyd *px, const char *spec, bool proxy_header)
{
	struct sockaddr_storage ss;
	struct listener *l;
	socklen_t len;
	int fd, one = 1;

	if (!proxyd_resolve(spec, true, &ss, &len)) {
		log_err("[proxyd] %s: bad address '%s' (want host:port)",
		    proxy_header ? "proxy_listen" : "listen", spec);
		return false;
	}
	fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("socket for %s: %s", spec, strerror(errno));
		return false;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(
		    fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4096) < 0) {
		log_err("listen on %s: %s", spec, strerror(errno));
		close(fd);
		return false;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		close(fd);
		return false;
	}
	l->px = px;
	l->fd = fd;
	l->proxy_header = proxy_header;
	snprintf(l->name, sizeof(l->name), "%s", spec);
	ev_io_init(&l->io, listener_on_accept, fd, EV_READ);
	l->io.data = l;
	ev_timer_init(&l->backoff, listener_on_backoff, 0.1, 0.);
	l->backoff.data = l;
	l->next = px->listeners;
	px->listeners = l;
	return true;
}

bool
listener_open_all(struct proxyd *px, const char *spec, bool proxy_header)
{
	char *copy, *item, *save = NULL;
	bool ok = true;

	if ((copy = strdup(spec)) == NULL)
		return false;
	for (item = strtok_r(copy, ", ", &save); item != NULL && ok;
	     item = strtok_r(NULL, ", ", &save))
		ok = listener_open(px, item, proxy_header);
	free(copy);
	return ok;
}

void
listener_start_all(struct proxyd *px)
{
	struct listener *l;

	for (l = px->listeners; l != NULL; l = l->next) {
		ev_io_start(px->loop, &l->io);
		log_info("listening on %s%s", l->name,
		    l->proxy_header ? " (PROXY protocol required)" : "");
	}
}

void
listener_close_all(struct proxyd *px)
{
	struct listener *l;

	while ((l = px->listeners) != NULL) {
		px->listeners = l->next;
		ev_io_stop(px->loop, &l->io);
		ev_timer_stop(px->loop, &l->backoff);
		close(l->fd);
		free(l);
	}
}
