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
#include <netdb.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <stddef.h>
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
 * See internal.h. "HOST:PORT" (an IP literal, or empty: any address when
 * passive, loopback otherwise), "[IPV6]:PORT", a UNIX path (anything
 * without a ':' as in uWSGI: "/run/app.sock", "app.sock") or "@abstract".
 * Host names are resolved only when passive (at start-up, binding): a
 * lookup in a worker would block it. Returns the family, or -1 with why
 * filled.
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
    if (addr[0] == '/' || addr[0] == '@' || addr[0] == '.' ||
        (addr[0] != '[' && strchr(addr, ':') == NULL && addr[0] != '\0')) {
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
    if (passive) {
        struct addrinfo hints, *res = NULL;
        int r;

        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_ADDRCONFIG;
        r = getaddrinfo(h, NULL, &hints, &res);
        if (r == 0 && res != NULL &&
            res->ai_addrlen <= sizeof(*ss)) {
            memcpy(ss, res->ai_addr, res->ai_addrlen);
            *len = res->ai_addrlen;
            if (ss->ss_family == AF_INET) {
                ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
            } else if (ss->ss_family == AF_INET6) {
                ((struct sockaddr_in6 *)ss)->sin6_port =
                    htons((uint16_t)port);
            }
            freeaddrinfo(res);
            return ss->ss_family;
        }
        if (res != NULL) {
            freeaddrinfo(res);
        }
        snprintf(why, whylen, "cannot resolve '%s': %s; give an IP address "
                 "or a name in /etc/hosts", host,
                 r ? gai_strerror(r) : "no address");
        return -1;
    }
    snprintf(why, whylen, "'%s' is not an IPv4 or IPv6 address (names are "
             "not resolved here)", host);
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

/* ------------------------------------------------ systemd activation */

/*
 * Sockets passed by systemd (LISTEN_PID is ours, LISTEN_FDS = N: fds 3 ..
 * 3+N-1). A configured socket whose address one of them has takes that
 * fd instead of binding (as uWSGI does); the rest are served after the
 * configured ones (wf__socket_adopt_rest). Read once, then the variables
 * are removed so that the workers and the app do not see them.
 */
static int sd_nfds = -1;
static unsigned char sd_used[64];

static void
sd_read_env(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

    if (sd_nfds >= 0) {
        return;
    }
    sd_nfds = 0;
    if (pid != NULL && fds != NULL && atol(pid) == (long)getpid()) {
        sd_nfds = atoi(fds);
        if (sd_nfds < 0) {
            sd_nfds = 0;
        }
        if (sd_nfds > (int)sizeof(sd_used)) {
            sd_nfds = (int)sizeof(sd_used);
        }
        for (int i = 0; i < sd_nfds; i++) {
            fcntl(3 + i, F_SETFD, FD_CLOEXEC);
        }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
}

static int
same_addr(const struct sockaddr_storage *a, socklen_t alen,
          const struct sockaddr_storage *b, socklen_t blen)
{
    if (a->ss_family != b->ss_family) {
        return 0;
    }
    switch (a->ss_family) {
    case AF_INET: {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
    }
    case AF_UNIX: {
        const struct sockaddr_un *x = (const void *)a, *y = (const void *)b;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t lx = alen > off ? alen - off : 0, ly = blen > off ? blen - off
                                                                 : 0;

        /* a path's length may or may not count its NUL */
        while (lx > 0 && x->sun_path[lx - 1] == '\0' && x->sun_path[0]) {
            lx--;
        }
        while (ly > 0 && y->sun_path[ly - 1] == '\0' && y->sun_path[0]) {
            ly--;
        }
        return lx == ly && memcmp(x->sun_path, y->sun_path, lx) == 0;
    }
    }
    return 0;
}

/* The inherited fd bound to ss (marked used), or -1. */
static int
sd_take(const struct sockaddr_storage *ss, socklen_t len)
{
    sd_read_env();
    for (int i = 0; i < sd_nfds; i++) {
        struct sockaddr_storage got;
        socklen_t glen = sizeof(got);

        if (sd_used[i] ||
            getsockname(3 + i, (struct sockaddr *)&got, &glen) < 0) {
            continue;
        }
        if (same_addr(&got, glen, ss, len)) {
            sd_used[i] = 1;
            return 3 + i;
        }
    }
    return -1;
}

/* UNIX socket mode and owner: --chmod-socket, --chown-socket, else the
 * --uid/--gid the processes will run as (uWSGI binds as root and gives
 * the socket to them). */
static int
unix_perms(const char *opt, const char *addr, struct wf_err *err)
{
    const char *owner = wf__cfg.chown_socket;
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;

    if (addr[0] == '@') {
        return 0;
    }
    if (wf__cfg.chmod_socket && chmod(addr, (mode_t)wf__cfg.chmod_socket)
        < 0) {
        return wf_err_set(err, "--%s %s: chmod(%o): %s", opt, addr,
                          wf__cfg.chmod_socket, strerror(errno));
    }
    if (owner != NULL) {
        char user[128], *colon;
        struct passwd *pw;

        snprintf(user, sizeof(user), "%s", owner);
        colon = strchr(user, ':');
        if (colon != NULL) {
            struct group *g;

            *colon++ = '\0';
            g = getgrnam(colon);
            if (g == NULL) {
                return wf_err_set(err, "--chown-socket %s: no group '%s'; "
                                  "give an existing group", owner, colon);
            }
            gid = g->gr_gid;
        }
        pw = getpwnam(user);
        if (pw == NULL) {
            return wf_err_set(err, "--chown-socket %s: no user '%s'; give "
                              "an existing user", owner, user);
        }
        uid = pw->pw_uid;
        if (colon == NULL) {
            gid = pw->pw_gid;
        }
    } else if (wf__cfg.uid || wf__cfg.gid) {
        if (wf__cfg.uid) {
            struct passwd *pw = getpwnam(wf__cfg.uid);

            if (pw != NULL) {
                uid = pw->pw_uid;
                gid = pw->pw_gid;
            } else {
                uid = (uid_t)atol(wf__cfg.uid);
            }
        }
        if (wf__cfg.gid) {
            struct group *g = getgrnam(wf__cfg.gid);

            gid = g != NULL ? g->gr_gid : (gid_t)atol(wf__cfg.gid);
        }
    } else {
        return 0;
    }
    if (chown(addr, uid, gid) < 0) {
        return wf_err_set(err, "--%s %s: chown(%d, %d): %s%s", opt, addr,
                          (int)uid, (int)gid, strerror(errno),
                          errno == EPERM ? "; start weft as root to give "
                          "the socket away" : "");
    }
    return 0;
}

/* Bind addr (or take the systemd fd bound there); fills l's host, port
 * and path. Returns the fd, or -1 with err. */
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
    if (fam == AF_UNIX && addr[0] != '@') {
        char cwd[PATH_MAX];

        size_t cl;

        if (addr[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL ||
            (cl = strlen(cwd)) + strlen(addr) + 2 > sizeof(l->path)) {
            snprintf(l->path, sizeof(l->path), "%s", addr);
        } else {
            memcpy(l->path, cwd, cl);
            l->path[cl] = '/';
            memcpy(l->path + cl + 1, addr, strlen(addr) + 1);
        }
    }
    fd = sd_take(&ss, len);
    if (fd >= 0) {
        l->inherited = 1;
        wf_log(WF_LOG_INFO, "--%s %s: using the socket systemd passed (fd "
               "%d)", opt, addr, fd);
        goto bound;
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
        if (wf__cfg.reuse_port &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
            int e = errno;

            close(fd);
            return wf_err_set(err, "--%s %s: SO_REUSEPORT: %s; drop "
                              "--reuse-port", opt, addr, strerror(e));
        }
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
    if (fam == AF_UNIX && unix_perms(opt, addr, err) < 0) {
        close(fd);
        return -1;
    }
bound:
    if (fam == AF_UNIX) {
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
void
wf__listener_nodelay(struct wf__listener *l)
{
    int one = 1;

    l->nodelay = setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one,
                            sizeof(one)) == 0;
}

static void
listener_add(struct wf__listener *l)
{
    struct wf__listener **tail;

    wf__listener_nodelay(l);

    for (tail = &wf__listeners; *tail; tail = &(*tail)->next) {
    }
    *tail = l;
}

/* See internal.h. */
int
wf__socket_adopt_rest(struct wf_err *err)
{
    sd_read_env();
    for (int i = 0; i < sd_nfds; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        struct wf__listener *l;
        char name[160];

        if (sd_used[i]) {
            continue;
        }
        if (getsockname(3 + i, (struct sockaddr *)&ss, &len) < 0) {
            return wf_err_set(err, "LISTEN_FDS: fd %d: %s; check the "
                              "systemd socket unit", 3 + i, strerror(errno));
        }
        l = calloc(1, sizeof(*l));
        if (l == NULL) {
            return wf_err_set(err, "out of memory");
        }
        if (ss.ss_family == AF_UNIX) {
            struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

            l->is_unix = 1;
            snprintf(name, sizeof(name), "%s", sun->sun_path[0] ?
                     sun->sun_path : "@abstract");
            snprintf(l->host, sizeof(l->host), "localhost");
            snprintf(l->port, sizeof(l->port), "0");
        } else {
            char h[INET6_ADDRSTRLEN];
            unsigned port;

            if (ss.ss_family == AF_INET) {
                inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
                          h, sizeof(h));
                port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            } else {
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
                          h, sizeof(h));
                port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            }
            snprintf(name, sizeof(name), "%s:%u", h, port);
            snprintf(l->host, sizeof(l->host), "%s", h);
            snprintf(l->port, sizeof(l->port), "%u", port);
        }
        sd_used[i] = 1;
        fcntl(3 + i, F_SETFL, fcntl(3 + i, F_GETFL) | O_NONBLOCK);
        l->fd = 3 + i;
        l->inherited = 1;
        l->proto = WF_PROTO_UWSGI;
        l->name = strdup(name);
        listener_add(l);
        wf_log(WF_LOG_INFO, "systemd socket fd %d (%s): in no --socket or "
               "--http-socket, serving the uwsgi protocol there", 3 + i,
               name);
    }
    return 0;
}

/* See internal.h. */
int
wf__socket_listen(const char *opt, const char *addr, enum wf__proto proto,
                  struct wf_err *err)
{
    struct wf__listener *l;
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
    if (!l->inherited && listen(fd, (int)wf__cfg.listen) < 0) {
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
    listener_add(l);
    return 0;
}
