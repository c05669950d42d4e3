/*
 * Listening sockets: TCP (IPv4, IPv6) and UNIX (path or abstract). Master
 * context: bound before the workers fork, inherited by them.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct wf__listener *wf__listeners;

static long
somaxconn(void)
{
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    long v = -1;

    if (f != NULL) {
        if (fscanf(f, "%ld", &v) != 1) {
            v = -1;
        }
        fclose(f);
    }
    return v;
}

/*
 * See internal.h. "HOST:PORT" (an IP literal; when passive also
 * "localhost", and empty for any address; empty is loopback otherwise),
 * "[IPV6]:PORT", a UNIX
 * path ('/' or '.' first) or "@abstract". No name resolution: a lookup
 * would block the worker. Returns the family, or -1 with why filled.
 */
int
wf__addr_parse(const char *addr, int passive, struct sockaddr_storage *ss,
               socklen_t *len, char *why, size_t whylen)
{
    const char *colon, *h;
    char host[128];
    long port;
    char *end;

    memset(ss, 0, sizeof(*ss));
    if (addr[0] == '/' || addr[0] == '@' || addr[0] == '.') {
        struct sockaddr_un *sun = (struct sockaddr_un *)ss;
        size_t alen = strlen(addr);

        if (alen >= sizeof(sun->sun_path)) {
            snprintf(why, whylen, "path longer than %zu bytes; use a "
                     "shorter path", sizeof(sun->sun_path) - 1);
            return -1;
        }
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, addr, alen);
        if (addr[0] == '@') {
            sun->sun_path[0] = '\0';     /* Linux abstract namespace */
        }
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + alen +
                           (addr[0] == '@' ? 0 : 1));
        return AF_UNIX;
    }
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');

        if (rb == NULL || rb[1] != ':') {
            snprintf(why, whylen, "expected [IPV6]:PORT");
            return -1;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(rb - addr - 1), addr + 1);
        colon = rb + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL) {
            snprintf(why, whylen, "expected HOST:PORT, :PORT or a socket "
                     "path");
            return -1;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0) {
        snprintf(why, whylen, "'%s' is not a port number", colon + 1);
        return -1;
    }
    if (port < 1 || port > 65535) {
        snprintf(why, whylen, "port out of range 1-65535");
        return -1;
    }
    h = host[0] ? host : (passive ? "0.0.0.0" : "127.0.0.1");
    if (passive && strcmp(h, "localhost") == 0) {
        /* only for binding: async_connect("localhost:N") is -1 in uWSGI
         * (no names at all), and apps may count on it */
        h = "127.0.0.1";
    }
    if (inet_pton(AF_INET, h, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *len = sizeof(*sin);
        return AF_INET;
    }
    if (inet_pton(AF_INET6, h, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*sin6);
        return AF_INET6;
    }
    snprintf(why, whylen, "'%s' is not an IPv4 or IPv6 address (names are "
             "not resolved)", host);
    return -1;
}

/* See core.h. */
WF_API int
wf_connect_start(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char why[160];
    int fam = wf__addr_parse(addr, 0, &ss, &len, why, sizeof(why));
    int fd, e;

    if (fam < 0) {
        return -EINVAL;
    }
    fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (struct sockaddr *)&ss, len) < 0 &&
        errno != EINPROGRESS && errno != EAGAIN && errno != EINTR) {
        e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* A socket file left by a dead server is removed; a live one (connect
 * succeeds) or something that is not a socket stops start-up. */
static int
clear_unix_path(const char *opt, const char *addr,
                const struct sockaddr_storage *ss, socklen_t len,
                struct wf_err *err)
{
    struct stat st;
    int probe;

    if (addr[0] == '@' || stat(addr, &st) != 0) {
        return 0;
    }
    if (!S_ISSOCK(st.st_mode)) {
        return wf_err_set(err, "--%s %s: exists and is not a socket; remove "
                          "it or choose another path", opt, addr);
    }
    probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (const struct sockaddr *)ss, len) == 0) {
        close(probe);
        return wf_err_set(err, "--%s %s: another server listens there; stop "
                          "it or choose another path", opt, addr);
    }
    if (probe >= 0) {
        close(probe);
    }
    unlink(addr);
    return 0;
}

/* Bind addr; fills l's host and port. Returns the fd, or -1 with err. */
static int
bind_addr(const char *opt, const char *addr, struct wf__listener *l,
          struct wf_err *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char why[160];
    int fam = wf__addr_parse(addr, 1, &ss, &len, why, sizeof(why));
    int fd, one = 1;

    if (fam < 0) {
        return wf_err_set(err, "--%s %s: %s", opt, addr, why);
    }
    if (fam == AF_UNIX && clear_unix_path(opt, addr, &ss, len, err) < 0) {
        return -1;
    }
    fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return wf_err_set(err, "--%s %s: socket(): %s", opt, addr,
                          strerror(errno));
    }
    if (fam != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (fam == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        int e = errno;

        close(fd);
        return wf_err_set(err, "--%s %s: bind(): %s%s", opt, addr,
                          strerror(e), e == EADDRINUSE ?
                          "; another process has this port: stop it or "
                          "choose another" : fam == AF_UNIX ?
                          "; check the directory exists and is writable" :
                          "");
    }
    if (fam == AF_UNIX) {
        if (addr[0] != '@') {
            chmod(addr, 0666);
        }
        l->is_unix = 1;
        snprintf(l->host, sizeof(l->host), "%s", "localhost");
        snprintf(l->port, sizeof(l->port), "%s", "0");
    } else {
        char h[INET6_ADDRSTRLEN];
        const void *a = fam == AF_INET
            ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
            : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
        unsigned port = ntohs(fam == AF_INET
                              ? ((struct sockaddr_in *)&ss)->sin_port
                              : ((struct sockaddr_in6 *)&ss)->sin6_port);

        inet_ntop(fam, a, h, sizeof(h));
        snprintf(l->host, sizeof(l->host), "%s", h);
        snprintf(l->port, sizeof(l->port), "%u", port);
    }
    return fd;
}

/* See internal.h. */
int
wf__socket_listen(const char *opt, const char *addr, enum wf__proto proto,
                  struct wf_err *err)
{
    struct wf__listener *l, **tail;
    long max = somaxconn();
    int fd;

    if (max > 0 && wf__cfg.listen > max) {
        return wf_err_set(err, "--listen %ld: above the kernel's "
                          "net.core.somaxconn (%ld); lower --listen or raise "
                          "the sysctl", wf__cfg.listen, max);
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return wf_err_set(err, "out of memory");
    }
    fd = bind_addr(opt, addr, l, err);
    if (fd < 0) {
        free(l);
        return -1;
    }
    if (listen(fd, (int)wf__cfg.listen) < 0) {
        int e = errno;

        close(fd);
        free(l);
        return wf_err_set(err, "--%s %s: listen(): %s", opt, addr,
                          strerror(e));
    }
    /* non-blocking: several workers accept from it, and a wake-up can
     * find the queue already empty */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    l->fd = fd;
    l->proto = proto;
    l->modifier1 = proto == WF_PROTO_HTTP ? (unsigned)wf__cfg.http_modifier1
                                          : 0;
    l->name = strdup(addr);
    for (tail = &wf__listeners; *tail; tail = &(*tail)->next) {
    }
    *tail = l;
    return 0;
}
