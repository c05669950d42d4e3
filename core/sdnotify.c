/*
 * systemd's notification protocol (sd_notify(3)), without libsystemd:
 * when NOTIFY_SOCKET names a datagram socket (a path, or "@name" in the
 * abstract namespace), each state change is one datagram of "KEY=VALUE"
 * lines. The master says READY=1 once its workers serve, RELOADING=1 and
 * READY=1 around a reload, STOPPING=1 when it stops, and STATUS= lines a
 * person reads in `systemctl status`. With Type=notify in the unit,
 * systemd then knows when weft really serves.
 *
 * The socket is opened before privileges are dropped; the variable is
 * removed from the environment so that workers and apps do not notify.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int sd_fd = -1;
static struct sockaddr_un sd_addr;
static socklen_t sd_len;

/* See internal.h. */
void
wf__sd_init(void)
{
    const char *p = getenv("NOTIFY_SOCKET");
    size_t n;

    if (p == NULL || sd_fd >= 0) {
        return;
    }
    n = strlen(p);
    if ((p[0] != '/' && p[0] != '@') || n < 2 ||
        n >= sizeof(sd_addr.sun_path)) {
        wf_log(WF_LOG_WARN, "NOTIFY_SOCKET=%s: not a UNIX socket path; "
               "systemd notifications are off", p);
        unsetenv("NOTIFY_SOCKET");
        return;
    }
    memset(&sd_addr, 0, sizeof(sd_addr));
    sd_addr.sun_family = AF_UNIX;
    memcpy(sd_addr.sun_path, p, n);
    if (p[0] == '@') {
        sd_addr.sun_path[0] = '\0';
    }
    sd_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    sd_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sd_fd < 0) {
        wf_log_errno("socket(AF_UNIX, SOCK_DGRAM) for NOTIFY_SOCKET");
    }
    unsetenv("NOTIFY_SOCKET");
}

/* See internal.h. */
void
wf__sd_notify(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n;

    if (sd_fd < 0) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n >= sizeof(msg)) {
        n = (int)sizeof(msg) - 1;
    }
    while (sendto(sd_fd, msg, (size_t)n, MSG_NOSIGNAL,
                  (struct sockaddr *)&sd_addr, sd_len) < 0) {
        if (errno != EINTR) {
            wf_log_errno("sd_notify(%.32s)", msg);
            break;
        }
    }
}
