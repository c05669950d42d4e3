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

static int
listen_unix(const char *opt, const char *addr, struct wf__listener *l,
            struct wf_err *err)
{
    struct sockaddr_un sun;
    socklen_t len;
    size_t alen = strlen(addr);
    int fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (alen >= sizeof(sun.sun_path)) {
        return wf_err_set(err, "--%s %s: path longer than %zu bytes; use a "
                          "shorter path", opt, addr,
                          sizeof(sun.sun_path) - 1);
    }
    memcpy(sun.sun_path, addr, alen);
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + alen);
    if (addr[0] == '@') {
        sun.sun_path[0] = '\0';     /* Linux abstract namespace */
    } else {
        struct stat st;

        len += 1;
        /* a socket file left by a dead server: remove it, but never a
         * live one (connect succeeds) or something that is not a socket */
        if (stat(addr, &st) == 0) {
            int probe;

            if (!S_ISSOCK(st.st_mode)) {
                return wf_err_set(err, "--%s %s: exists and is not a socket; "
                                  "remove it or choose another path", opt,
                                  addr);
            }
            probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (probe >= 0 &&
                connect(probe, (struct sockaddr *)&sun, len) == 0) {
                close(probe);
                return wf_err_set(err, "--%s %s: another server listens "
                                  "there; stop it or choose another path",
                                  opt, addr);
            }
            if (probe >= 0) {
                close(probe);
            }
            unlink(addr);
        }
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return wf_err_set(err, "--%s %s: socket(): %s", opt, addr,
                          strerror(errno));
    }
    if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
        int e = errno;

        close(fd);
        return wf_err_set(err, "--%s %s: bind(): %s; check the directory "
                          "exists and is writable", opt, addr, strerror(e));
    }
    if (addr[0] != '@') {
        chmod(addr, 0666);
    }
    l->is_unix = 1;
    snprintf(l->host, sizeof(l->host), "%s", "localhost");
    snprintf(l->port, sizeof(l->port), "%s", "0");
    return fd;
}

static int
listen_tcp(const char *opt, const char *addr, struct wf__listener *l,
           struct wf_err *err)
{
    struct sockaddr_storage ss;
    char host[128];
    const char *colon, *h;
    socklen_t len;
    long port;
    char *end;
    int fd, one = 1, fam;

    memset(&ss, 0, sizeof(ss));
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');

        if (rb == NULL || rb[1] != ':') {
            return wf_err_set(err, "--%s %s: expected [IPV6]:PORT", opt,
                              addr);
        }
        snprintf(host, sizeof(host), "%.*s", (int)(rb - addr - 1), addr + 1);
        colon = rb + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL) {
            return wf_err_set(err, "--%s %s: expected HOST:PORT, :PORT or a "
                              "socket path", opt, addr);
        }
        snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0) {
        return wf_err_set(err, "--%s %s: '%s' is not a port number", opt,
                          addr, colon + 1);
    }
    if (port < 1 || port > 65535) {
        return wf_err_set(err, "--%s %s: port out of range 1-65535", opt,
                          addr);
    }
    h = host[0] ? host : "0.0.0.0";
    if (strcmp(h, "localhost") == 0) {
        h = "127.0.0.1";
    }
    if (inet_pton(AF_INET, h, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

        fam = AF_INET;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        len = sizeof(*sin);
    } else if (inet_pton(AF_INET6, h,
                         &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

        fam = AF_INET6;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        len = sizeof(*sin6);
    } else {
        return wf_err_set(err, "--%s %s: '%s' is not an IPv4 or IPv6 "
                          "address (names are not resolved)", opt, addr,
                          host);
    }
    fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return wf_err_set(err, "--%s %s: socket(): %s", opt, addr,
                          strerror(errno));
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fam == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        int e = errno;

        close(fd);
        return wf_err_set(err, "--%s %s: bind(): %s%s", opt, addr,
                          strerror(e), e == EADDRINUSE ?
                          "; another process has this port: stop it or "
                          "choose another" : "");
    }
    snprintf(l->host, sizeof(l->host), "%s", host[0] ? host : "0.0.0.0");
    snprintf(l->port, sizeof(l->port), "%ld", port);
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
    if (addr[0] == '/' || addr[0] == '@' || addr[0] == '.') {
        fd = listen_unix(opt, addr, l, err);
    } else {
        fd = listen_tcp(opt, addr, l, err);
    }
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
