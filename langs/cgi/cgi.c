/*
 * cgi: CGI/1.1 scripts (RFC 3875) as a weft language, modifier1 9 as in
 * uWSGI.
 *
 * A request runs its script as a child process: posix_spawn() (no shell;
 * a vfork-style clone, cheap even from a large worker), in a process group
 * of its own, in the script's directory, with fds 0..2 the ends of three
 * pipes and every other fd closed, and an environment made of the
 * meta-variables and PATH only. The worker keeps the other ends,
 * non-blocking, and drives them from handle() as a state machine:
 *
 *   body --> script's stdin      script's stdout --> head parser --> client
 *                                script's stderr --> the log, line by line
 *
 * handle() moves what it can without waiting, then registers a wait for
 * each pipe that would block (and for the client, to see it leave, and for
 * the child's pidfd, to reap it) plus a timer, and returns WF_AGAIN. The
 * core then gives the worker to other requests until one of them is
 * ready: with a suspend engine (the core suspends the core's context), in
 * the core's own loop without one (the core requeues the core when a wait
 * fires), and under a loop engine (gevent's hub waits). So one worker runs
 * as many scripts at once as it has cores, in every mode, with no thread.
 *
 * --cgi-timeout is uWSGI's: the longest time the script may go without
 * output (or without taking its input). Then, and when the client goes
 * away, the whole process group gets SIGTERM and, a second later,
 * SIGKILL; the script is always reaped (pidfd, or waitpid() polling on
 * kernels without pidfd_open) before the core is given back, so no zombie
 * is left, and a core abandoned by the worker (harakiri, shutdown) kills
 * and reaps its script in release().
 */
#include "config.h"

#include "cgi.h"
#include "cgi_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <weft/plugin.h>

#define CGI_MODIFIER1 9
#define CGI_IOBUF 65536         /* one read from a pipe or the client */
#define CGI_BUDGET (1 << 20)    /* bytes moved per handle() call before
                                   the others get a turn */
#define CGI_KILL_GRACE_MS 1000  /* SIGTERM .. SIGKILL */
#define CGI_REAP_POLL_MS 20     /* waitpid() polling without a pidfd */
#define CGI_MAX_REDIRECTS 10    /* local redirects of one request */
#define CGI_ERRLINE 2048

/* ---------------------------------------------------------------- options */

static struct wf_strlist cgi_opt_mounts;
static struct wf_strlist cgi_opt_index;
static struct wf_strlist cgi_opt_allowed;
static struct wf_strlist cgi_opt_helpers;
static struct wf_strlist cgi_opt_safe;
struct wf_strlist cgi_opt_unset;
static struct wf_strlist cgi_opt_pass_env;
static long cgi_opt_timeout;
static int cgi_opt_no_path_info;
static int cgi_opt_close_stdin;

/* ------------------------------------------------------------ set-up state */

struct cgi_helper {
    char *ext;              /* ".py" */
    char *cmd;              /* as given */
    char *exe;              /* resolved in PATH at start-up */
};

static struct cgi_mount *cgi_mounts;
static size_t cgi_nmounts;
static struct cgi_helper *cgi_helpers;
static size_t cgi_nhelpers;
char *cgi_path_env;  /* "PATH=..." */
char **cgi_pass_env; /* "NAME=value" the user passes through */
size_t cgi_npass;
char cgi_software[64];

/* ------------------------------------------------------ per-request state */

enum cgi_phase {
    CGI_IDLE = 0,
    CGI_RUNNING,
};

struct cgi_req {
    enum cgi_phase phase;
    pid_t pid;              /* > 0 while not reaped */
    pid_t pgid;             /* the script's process group, until cleanup */
    int pidfd;              /* -1 without */
    int in_fd, out_fd, err_fd;  /* our ends; -1 once closed */
    int client_fd;

    char *buf;              /* CGI_IOBUF: client -> stdin staging */
    size_t in_off, in_len;
    char *head;             /* CGI_HEAD_MAX: the response head so far */
    size_t head_len;
    char errline[CGI_ERRLINE];
    size_t err_len;

    unsigned body_eof : 1;      /* the whole body went to the script */
    unsigned body_short : 1;    /* a body read came short: wait for the
                                   client before each read from now on */
    unsigned head_done : 1;     /* the response head went to the core */
    unsigned watch_client : 1;  /* wait for the client to see it leave */
    unsigned killing : 1;       /* SIGTERM sent */
    unsigned killed9 : 1;       /* SIGKILL sent */
    unsigned failed : 1;        /* the response is an error: no more
                                   output goes to the client */
    unsigned client_gone : 1;

    int64_t deadline;       /* --cgi-timeout: without progress until then */
    int64_t kill_at;        /* SIGKILL then */
    int64_t next_reap_poll; /* without a pidfd */
    int exit_status;        /* from waitpid, or -1 */

    char script_name[512];  /* for the log */
    char path[4096];        /* a decoded path (local redirects) */
    int redirects;
    char *redirect;         /* a local redirect to run next, or NULL */
};

static struct cgi_req *cgi_reqs;
static unsigned cgi_ncores;

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long
timeout_ms(void)
{
    return cgi_opt_timeout * 1000;
}

static void
close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* ----------------------------------------------------------------- helpers */

static int
has_helper(const char *file, void *arg)
{
    size_t i, n = strlen(file);

    (void)arg;
    for (i = 0; i < cgi_nhelpers; i++) {
        size_t k = strlen(cgi_helpers[i].ext);

        if (n >= k && strcmp(file + n - k, cgi_helpers[i].ext) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *
helper_for(const char *file)
{
    size_t i, n = strlen(file);

    for (i = 0; i < cgi_nhelpers; i++) {
        size_t k = strlen(cgi_helpers[i].ext);

        if (n >= k && strcmp(file + n - k, cgi_helpers[i].ext) == 0) {
            return cgi_helpers[i].exe;
        }
    }
    return NULL;
}

/* cmd with a '/' as it is; otherwise the first executable in $PATH.
 * Returns a malloc'd path, or NULL. */
static char *
find_in_path(const char *cmd)
{
    const char *path = getenv("PATH"), *p;
    char buf[PATH_MAX];

    if (strchr(cmd, '/') != NULL) {
        return access(cmd, X_OK) == 0 ? strdup(cmd) : NULL;
    }
    if (path == NULL || *path == '\0') {
        path = "/usr/local/bin:/usr/bin:/bin";
    }
    for (p = path; ; ) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);

        if (n > 0 && (size_t)snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p,
                                      cmd) < sizeof(buf) &&
            access(buf, X_OK) == 0) {
            return strdup(buf);
        }
        if (e == NULL) {
            break;
        }
        p = e + 1;
    }
    return NULL;
}

/* --------------------------------------------------------------- start-up */

static int
cgi_init(struct wf_err *err)
{
    size_t i;
    const char *path;

    snprintf(cgi_software, sizeof(cgi_software), "weft/%s", wf_version());
    if (cgi_opt_mounts.n == 0) {
        return 0;
    }
    cgi_mounts = calloc(cgi_opt_mounts.n, sizeof(*cgi_mounts));
    if (cgi_mounts == NULL) {
        return wf_err_set(err, "cgi: out of memory");
    }
    for (i = 0; i < cgi_opt_mounts.n; i++) {
        struct cgi_mount *m = &cgi_mounts[i];
        const char *why;
        struct stat st;
        char *real;

        if (cgi_mount_parse(cgi_opt_mounts.v[i], m, &why) < 0) {
            return wf_err_set(err, "--cgi %s: %s; give DIR or /mount=DIR",
                              cgi_opt_mounts.v[i], why);
        }
        cgi_nmounts++;
        real = realpath(m->path, NULL);
        if (real == NULL || stat(real, &st) != 0) {
            wf_err_set(err, "--cgi %s: %s: %s; give an existing directory "
                       "of scripts (or a script)", cgi_opt_mounts.v[i],
                       m->path, strerror(errno));
            free(real);
            return -1;
        }
        m->real = real;
        m->rlen = strlen(real);
        m->is_file = !S_ISDIR(st.st_mode);
        /* HTTP requests under a mount point come here even beside
         * another language's app */
        if (!m->is_default &&
            wf_route_prefix(m->prefix, CGI_MODIFIER1, err) < 0) {
            return -1;
        }
        wf_log(WF_LOG_INFO, "cgi: %s %s serves %s", m->is_file ? "script"
               : "directory", m->real, m->is_default ? "every path" :
               (m->plen ? m->prefix : "/"));
    }
    for (i = 0; i < cgi_opt_helpers.n; i++) {
        const char *v = cgi_opt_helpers.v[i], *eq = strchr(v, '=');
        struct cgi_helper *h;

        if (eq == NULL || eq == v || eq[1] == '\0') {
            return wf_err_set(err, "--cgi-helper %s: give .ext=command, "
                              "e.g. .py=python3", v);
        }
        h = realloc(cgi_helpers, (cgi_nhelpers + 1) * sizeof(*h));
        if (h == NULL) {
            return wf_err_set(err, "cgi: out of memory");
        }
        cgi_helpers = h;
        h = &cgi_helpers[cgi_nhelpers++];
        h->ext = strndup(v, (size_t)(eq - v));
        h->cmd = strdup(eq + 1);
        h->exe = find_in_path(eq + 1);
        if (h->exe == NULL) {
            return wf_err_set(err, "--cgi-helper %s: %s is not an "
                              "executable in PATH; give its full path", v,
                              eq + 1);
        }
    }
    path = getenv("PATH");
    if (asprintf(&cgi_path_env, "PATH=%s",
                 path ? path : "/usr/local/bin:/usr/bin:/bin") < 0) {
        return wf_err_set(err, "cgi: out of memory");
    }
    cgi_pass_env = calloc(cgi_opt_pass_env.n + 1, sizeof(char *));
    for (i = 0; cgi_pass_env && i < cgi_opt_pass_env.n; i++) {
        const char *v = getenv(cgi_opt_pass_env.v[i]);

        if (v != NULL && asprintf(&cgi_pass_env[cgi_npass], "%s=%s",
                                  cgi_opt_pass_env.v[i], v) >= 0) {
            cgi_npass++;
        }
    }
    return 0;
}

static int
cgi_load_app(struct wf_err *err)
{
    (void)err;
    return cgi_nmounts > 0 ? 1 : 0;
}

static void
req_reset(struct cgi_req *r)
{
    r->phase = CGI_IDLE;
    r->pid = 0;
    r->pgid = 0;
    r->pidfd = -1;
    r->in_fd = r->out_fd = r->err_fd = -1;
    r->client_fd = -1;
    r->in_off = r->in_len = 0;
    r->head_len = 0;
    r->err_len = 0;
    r->body_eof = r->body_short = r->head_done = r->watch_client = 0;
    r->killing = r->killed9 = r->failed = r->client_gone = 0;
    r->exit_status = -1;
}

static void
kill_all_children(void)
{
    unsigned i;

    for (i = 0; cgi_reqs && i < cgi_ncores; i++) {
        if (cgi_reqs[i].pid > 0) {
            kill(-cgi_reqs[i].pid, SIGKILL);
            waitpid(cgi_reqs[i].pid, NULL, 0);
            cgi_reqs[i].pid = 0;
        }
    }
}

static int
cgi_worker_init(unsigned ncores, struct wf_err *err)
{
    unsigned i;

    cgi_reqs = calloc(ncores, sizeof(*cgi_reqs));
    if (cgi_reqs == NULL) {
        return wf_err_set(err, "cgi: out of memory for %u cores", ncores);
    }
    cgi_ncores = ncores;
    for (i = 0; i < ncores; i++) {
        req_reset(&cgi_reqs[i]);
    }
    /* a worker that exits with scripts running takes them along */
    atexit(kill_all_children);
    return 0;
}

/* ------------------------------------------------------------ the request */

/* A complete error response (the core's reason phrase, a short body). */
static int
send_error(struct wf_core *c, struct cgi_req *r, int code)
{
    char body[64];
    const char *reason = wf_http_reason(code);
    int bl;

    r->failed = 1;
    if (wf_response_started(c)) {
        wf_response_error(c, code);     /* only the close is left */
        return WF_DONE;
    }
    bl = snprintf(body, sizeof(body), "%d %s\n", code,
                  reason ? reason : "Error");
    wf_response_reset(c);
    if (wf_response_status_code(c, code) < 0 ||
        wf_response_header(c, "Content-Type", 12, "text/plain", 10) < 0) {
        wf_response_error(c, code);
        return WF_DONE;
    }
    wf_write(c, body, (size_t)bl);
    return WF_DONE;
}

static int
redirect_slash(struct wf_core *c, const char *path, size_t len)
{
    size_t qlen = 0;
    const char *q = wf_req_get(c, "QUERY_STRING", &qlen);
    char *loc;
    int n;

    n = asprintf(&loc, "%.*s/%s%.*s", (int)len, path, qlen ? "?" : "",
                 (int)qlen, q ? q : "");
    if (n < 0) {
        wf_response_error(c, 500);
        return WF_DONE;
    }
    wf_response_status(c, "301 Moved Permanently", 21);
    wf_response_header(c, "Location", 8, loc, (size_t)n);
    wf_response_header(c, "Content-Length", 14, "0", 1);
    free(loc);
    return WF_DONE;
}

/*
 * Resolve the request (or the local redirect r->redirect) to a script and
 * start it. Returns WF_DONE when the request was answered here (404, 403,
 * 301, a spawn error), or WF_AGAIN with the script running.
 */
static int
cgi_start(struct wf_core *c, struct cgi_req *r)
{
    const char *path, *helper;
    size_t plen, i, qlen = 0;
    struct cgi_walk_opts o = {
        .index = cgi_opt_index.v, .nindex = cgi_opt_index.n,
        .allowed_ext = cgi_opt_allowed.v, .nallowed = cgi_opt_allowed.n,
        .safe = cgi_opt_safe.v, .nsafe = cgi_opt_safe.n,
        .no_path_info = cgi_opt_no_path_info, .has_helper = has_helper,
    };
    struct cgi_target *t;
    const struct cgi_mount *m;
    struct cgi_envb env = { 0 };
    struct cgi_child sp;
    char *argv[64], *args = NULL, *dir, *slash;
    const char *q;
    int mi, argc = 0, rc;
    enum cgi_walk_result wr;

    if (r->redirect != NULL) {
        /* the script's Location: decoded and checked by the core's path
         * rules, like a request's */
        const char *qm = strchr(r->redirect, '?');
        size_t rawlen = qm ? (size_t)(qm - r->redirect)
                           : strlen(r->redirect);
        int n = wf_path_resolve("", 0, r->redirect, rawlen, r->path,
                                sizeof(r->path) - 1);

        if (n < 0) {
            wf_log(WF_LOG_WARN, "cgi: %s: local redirect to %.*s refused "
                   "(the path rules of --static-map)", r->script_name,
                   (int)rawlen, r->redirect);
            return send_error(c, r, n == -414 ? 414 : 502);
        }
        if (rawlen > 1 && r->redirect[rawlen - 1] == '/' && n > 1) {
            r->path[n++] = '/';
            r->path[n] = '\0';
        }
        path = r->path;
        plen = (size_t)n;
        q = qm ? qm + 1 : "";
        qlen = strlen(q);
    } else {
        const char *uri;
        size_t ulen = 0;

        path = wf_req_get(c, "PATH_INFO", &plen);
        q = wf_req_get(c, "QUERY_STRING", &qlen);
        if (path == NULL) {
            path = "";
            plen = 0;
        }
        /* the raw path must pass the core's rules too (the ones of
         * --static-map: no encoded '/', '\\', control bytes, bad UTF-8,
         * ".." in any form) */
        uri = wf_req_get(c, "REQUEST_URI", &ulen);
        if (uri != NULL && ulen > 0 && uri[0] == '/') {
            const char *qm = memchr(uri, '?', ulen);
            size_t rawlen = qm ? (size_t)(qm - uri) : ulen;
            int n = wf_path_resolve("", 0, uri, rawlen, r->path,
                                    sizeof(r->path));

            if (n < 0) {
                wf_log(WF_LOG_WARN, "cgi: %.*s: refused with %d (the path "
                       "rules of --static-map)", (int)rawlen, uri, -n);
                return send_error(c, r, -n);
            }
        }
    }
    mi = cgi_mount_match(cgi_mounts, cgi_nmounts, path, plen);
    if (mi < 0) {
        return send_error(c, r, 404);
    }
    m = &cgi_mounts[mi];
    t = malloc(sizeof(*t));
    if (t == NULL) {
        return send_error(c, r, 500);
    }
    wr = cgi_walk(m, path, plen, &o, t);
    switch (wr) {
    case CGI_WALK_SCRIPT:
        break;
    case CGI_WALK_REDIRECT_SLASH:
        free(t);
        return redirect_slash(c, path, plen);
    case CGI_WALK_FORBIDDEN:
        wf_log(WF_LOG_WARN, "cgi: %.*s: refused (outside %s, a \"..\" "
               "segment, not executable, or an extension not allowed)",
               (int)plen, path, m->real);
        free(t);
        return send_error(c, r, 403);
    case CGI_WALK_TOO_LONG:
        free(t);
        return send_error(c, r, 414);
    default:
        free(t);
        return send_error(c, r, 404);
    }
    snprintf(r->script_name, sizeof(r->script_name), "%.*s",
             (int)(sizeof(r->script_name) - 1), t->script_name);

    /* argv: [helper] script [indexed query words] */
    helper = helper_for(t->file);
    if (helper != NULL) {
        argv[argc++] = (char *)helper;
    }
    argv[argc++] = t->file;
    if (q != NULL && qlen > 0 && (args = malloc(qlen + 1)) != NULL) {
        size_t nw = cgi_query_args(q, qlen, args);
        char *w = args;

        for (i = 0; i < nw && argc < 63; i++) {
            argv[argc++] = w;
            w += strlen(w) + 1;
        }
    }
    argv[argc] = NULL;

    if (cgi_build_env(c, m, t, r->redirect, &env) < 0) {
        cgi_env_free(&env);
        free(args);
        free(t);
        return send_error(c, r, 500);
    }
    dir = strdup(t->file);
    slash = dir ? strrchr(dir, '/') : NULL;
    if (slash != NULL) {
        *slash = '\0';
        if (slash == dir) {
            strcpy(dir, "/");
        }
    }
    rc = dir ? cgi_spawn(helper ? helper : t->file, argv, env.v, dir, &sp)
             : ENOMEM;
    free(dir);
    cgi_env_free(&env);
    free(args);
    if (rc == 0) {
        r->pid = r->pgid = sp.pid;
        r->in_fd = sp.in_fd;
        r->out_fd = sp.out_fd;
        r->err_fd = sp.err_fd;
        r->pidfd = sp.pidfd;
    }
    if (rc != 0) {
        wf_log(WF_LOG_ERROR, "cgi: %s: cannot run %s%s%s: %s%s",
               r->script_name, helper ? helper : "", helper ? " " : "",
               t->file, strerror(rc), rc == ENOEXEC ? " (no #! line? give "
               "a --cgi-helper for its extension)" : "");
        free(t);
        return send_error(c, r, 500);
    }
    free(t);
    r->phase = CGI_RUNNING;
    r->client_fd = wf_req_fd(c);
    r->deadline = now_ms() + timeout_ms();
    r->next_reap_poll = now_ms() + CGI_REAP_POLL_MS;
    if (r->redirect != NULL || wf_body_remaining(c) == 0) {
        r->body_eof = 1;
        close_fd(&r->in_fd);
        r->watch_client = 1;
    }
    return WF_AGAIN;
}

/* Stop the script: its group gets SIGTERM now and SIGKILL after the grace;
 * nothing more goes to the client. */
static void
start_kill(struct cgi_req *r)
{
    if (r->killing || r->pgid <= 0) {
        return;
    }
    r->killing = 1;
    r->failed = 1;
    kill(-r->pgid, SIGTERM);
    r->kill_at = now_ms() + CGI_KILL_GRACE_MS;
    close_fd(&r->in_fd);
    close_fd(&r->out_fd);
}

/* The client left (or broke the exchange): kill the script. */
static void
client_gone(struct wf_core *c, struct cgi_req *r, const char *why)
{
    if (!r->client_gone) {
        wf_log(WF_LOG_INFO, "cgi: %s: %s; script killed", r->script_name,
               why);
    }
    r->client_gone = 1;
    r->watch_client = 0;
    r->failed = 1;
    wf_response_error(c, 500);  /* only marks the connection: see below */
    start_kill(r);
}

/* The script failed to give a response: 502 when nothing went out. */
static void
bad_gateway(struct wf_core *c, struct cgi_req *r, const char *why)
{
    wf_log(WF_LOG_ERROR, "cgi: %s: %s; 502 Bad Gateway", r->script_name,
           why);
    if (!r->failed) {
        r->failed = 1;
        wf_response_error(c, 502);
    }
    start_kill(r);
}

/* Log the complete lines of the script's stderr; flush=1 logs the rest. */
static void
log_stderr(struct cgi_req *r, int flush)
{
    char *p = r->errline, *end = r->errline + r->err_len, *nl;

    while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        wf_log(WF_LOG_INFO, "cgi: %s: %.*s", r->script_name,
               (int)(nl - p), p);
        p = nl + 1;
    }
    if (flush || (p == r->errline && r->err_len == sizeof(r->errline))) {
        if (end > p) {
            wf_log(WF_LOG_INFO, "cgi: %s: %.*s", r->script_name,
                   (int)(end - p), p);
        }
        p = end;
    }
    memmove(r->errline, p, (size_t)(end - p));
    r->err_len = (size_t)(end - p);
}

/* Read stderr without waiting. Returns the bytes read. */
static size_t
pump_stderr(struct cgi_req *r)
{
    size_t total = 0;

    while (r->err_fd >= 0 && total < CGI_BUDGET) {
        ssize_t n = read(r->err_fd, r->errline + r->err_len,
                         sizeof(r->errline) - r->err_len);

        if (n > 0) {
            r->err_len += (size_t)n;
            total += (size_t)n;
            log_stderr(r, 0);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        log_stderr(r, 1);
        close_fd(&r->err_fd);
    }
    return total;
}

/* The head is whole in r->head[0..end): give it to the core. Returns 0, or
 * -1 when the response is over (502 or a local redirect). */
static int
send_head(struct wf_core *c, struct cgi_req *r, size_t end)
{
    struct cgi_head *h = malloc(sizeof(*h));
    const char *why = NULL;
    size_t i;
    int rc = 0;

    if (h == NULL) {
        bad_gateway(c, r, "out of memory for the response head");
        return -1;
    }
    if (cgi_head_parse(r->head, end, h, &why) < 0) {
        bad_gateway(c, r, why);
        free(h);
        return -1;
    }
    if (h->location != NULL && h->location[0] == '/' &&
        (h->location_len < 2 || h->location[1] != '/') &&
        (h->status == 0 || h->status == 200)) {
        /* RFC 3875 6.2.2: a local redirect: the server runs the new path
         * itself; the script's own body is dropped */
        if (r->redirects >= CGI_MAX_REDIRECTS) {
            bad_gateway(c, r, "more than 10 local redirects");
            free(h);
            return -1;
        }
        free(r->redirect);
        r->redirect = strndup(h->location, h->location_len);
        r->redirects++;
        r->failed = 1;          /* nothing of this script goes out */
        close_fd(&r->out_fd);
        free(h);
        return -1;
    }
    if (h->status_line[0] != '\0') {
        rc = wf_response_status(c, h->status_line, strlen(h->status_line));
    } else if (h->status != 0) {
        rc = wf_response_status_code(c, h->status);
    } else if (h->location != NULL) {
        rc = wf_response_status(c, "302 Found", 9);
    } else {
        rc = wf_response_status(c, "200 OK", 6);
    }
    if (rc == 0 && h->location != NULL) {
        rc = wf_response_header(c, "Location", 8, h->location,
                                h->location_len);
    }
    for (i = 0; rc == 0 && i < h->nh; i++) {
        rc = wf_response_header(c, h->h[i].name, h->h[i].nlen, h->h[i].val,
                                h->h[i].vlen);
    }
    free(h);
    if (rc < 0) {
        char why[160];

        snprintf(why, sizeof(why), "a head the core refused: %s",
                 rc == -EINVAL ? wf_http_verdict_text(wf_response_refusal(c))
                               : strerror(-rc));
        bad_gateway(c, r, why);
        return -1;
    }
    r->head_done = 1;
    if (r->head_len > end) {
        if (wf_write(c, r->head + end, r->head_len - end) < 0) {
            client_gone(c, r, "the client went away");
            return -1;
        }
    }
    return 0;
}

/* 1 when the client can take bytes now (a write would not wait). */
static int
client_writable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };

    return poll(&p, 1, 0) > 0 && (p.revents & (POLLOUT | POLLERR | POLLHUP));
}

/*
 * Move the script's stdout to the client without waiting (the write to the
 * client may wait through the core when its socket is full). Returns the
 * bytes moved; *need_client_write is set when the client's socket is full.
 */
static size_t
pump_stdout(struct wf_core *c, struct cgi_req *r, int *need_client_write)
{
    size_t total = 0;

    while (r->out_fd >= 0 && total < CGI_BUDGET) {
        ssize_t n;

        if (!r->head_done) {
            if (r->head == NULL && (r->head = malloc(CGI_HEAD_MAX)) == NULL) {
                bad_gateway(c, r, "out of memory for the response head");
                break;
            }
            n = read(r->out_fd, r->head + r->head_len,
                     CGI_HEAD_MAX - r->head_len);
        } else {
            if (!client_writable(r->client_fd)) {
                *need_client_write = 1;
                break;
            }
            n = read(r->out_fd, r->buf + CGI_IOBUF, CGI_IOBUF);
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (n <= 0) {
            /* the end of the output */
            close_fd(&r->out_fd);
            if (!r->head_done && !r->failed) {
                bad_gateway(c, r, r->head_len == 0
                            ? "the script ended without any output"
                            : "the script's output ended inside its head");
            }
            break;
        }
        total += (size_t)n;
        if (!r->head_done) {
            ssize_t end;

            r->head_len += (size_t)n;
            end = cgi_head_end(r->head, r->head_len);
            if (end < 0) {
                bad_gateway(c, r, "a response head over 64 KiB");
                break;
            }
            if (end > 0 && send_head(c, r, (size_t)end) < 0) {
                break;
            }
            continue;
        }
        if (wf_write(c, r->buf + CGI_IOBUF, (size_t)n) < 0) {
            client_gone(c, r, "the client went away");
            break;
        }
    }
    return total;
}

/* 1 when the client's fd says it can be read now. */
static int
client_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, 0) > 0;
}

/*
 * Move the request body to the script's stdin without waiting for the
 * script. Returns the bytes moved; *need_client is set when more body must
 * come from the client first, *need_stdin when the pipe is full.
 */
static size_t
pump_stdin(struct wf_core *c, struct cgi_req *r, int *need_client,
           int *need_stdin)
{
    size_t total = 0;

    while (r->in_fd >= 0 && total < CGI_BUDGET) {
        if (r->in_off < r->in_len) {
            ssize_t w = write(r->in_fd, r->buf + r->in_off,
                              r->in_len - r->in_off);

            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                *need_stdin = 1;
                break;
            }
            if (w < 0) {
                /* EPIPE: the script does not read its input (any more);
                 * what is left of the body stays unread (the connection
                 * then closes after the response) */
                close_fd(&r->in_fd);
                break;
            }
            r->in_off += (size_t)w;
            total += (size_t)w;
            continue;
        }
        if (!r->body_eof && wf_body_remaining(c) == 0) {
            r->body_eof = 1;
            r->watch_client = 1;
        }
        if (r->body_eof) {
            close_fd(&r->in_fd);
            break;
        }
        /* Read more body. The first reads may come from bytes the core
         * holds already; after a short read they come from the socket,
         * and then only when it is readable, so that the read does not
         * block a worker that has no suspend engine. */
        if (r->body_short && !client_readable(r->client_fd)) {
            *need_client = 1;
            break;
        }
        {
            ssize_t n = wf_read_body(c, r->buf, CGI_IOBUF);

            if (n == 0) {
                r->body_eof = 1;
                r->watch_client = 1;
                continue;
            }
            if (n < 0) {
                client_gone(c, r, n == -ETIMEDOUT
                            ? "the client sent no body bytes in time"
                            : "the client's body broke off");
                break;
            }
            /* short: the bytes the core held are used up, and every
             * later read comes from the socket (a Content-Length body
             * never refills the core's buffer): from now on read only
             * when the socket is readable, so no read waits */
            if ((size_t)n < CGI_IOBUF) {
                r->body_short = 1;
            }
            r->in_off = 0;
            r->in_len = (size_t)n;
        }
    }
    return total;
}

/* Reap the script if it exited. */
static void
try_reap(struct cgi_req *r)
{
    int st;
    pid_t p;

    if (r->pid <= 0) {
        return;
    }
    do {
        p = waitpid(r->pid, &st, WNOHANG);
    } while (p < 0 && errno == EINTR);
    if (p == 0) {
        return;
    }
    if (p < 0) {
        /* ECHILD: someone else reaped it (a loop engine's SIGCHLD
         * handler, e.g. libev's): it is gone all the same */
        st = -1;
    }
    r->exit_status = st;
    if (st != -1) {
        if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
            wf_log(WF_LOG_WARN, "cgi: %s: exited with status %d",
                   r->script_name, WEXITSTATUS(st));
        } else if (WIFSIGNALED(st) && !r->killing) {
            wf_log(WF_LOG_WARN, "cgi: %s: killed by signal %d",
                   r->script_name, WTERMSIG(st));
        }
    }
    /* the group outlives its leader when a child of the script runs on:
     * after a kill, SIGKILL it now rather than wait for the grace */
    if (r->killing && !r->killed9) {
        kill(-r->pgid, SIGKILL);
        r->killed9 = 1;
    }
    r->pid = 0;
    close_fd(&r->pidfd);
}

static void
req_cleanup(struct cgi_req *r)
{
    if (r->pid > 0) {
        kill(-r->pgid, SIGKILL);
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        r->pid = 0;
    }
    close_fd(&r->pidfd);
    close_fd(&r->in_fd);
    close_fd(&r->out_fd);
    if (r->err_fd >= 0) {
        log_stderr(r, 1);
    }
    close_fd(&r->err_fd);
    free(r->head);
    r->head = NULL;
    free(r->buf);
    r->buf = NULL;
    req_reset(r);
}

static void
client_check(struct wf_core *c, struct cgi_req *r)
{
    char b;
    ssize_t n;

    if (!r->watch_client || r->client_fd < 0) {
        return;
    }
    n = recv(r->client_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                   errno != EINTR)) {
        client_gone(c, r, "the client closed the connection");
    } else if (n > 0) {
        /* a pipelined request: the client is there; stop watching */
        r->watch_client = 0;
    }
}

static int
cgi_handle(struct wf_core *c)
{
    struct cgi_req *r = &cgi_reqs[c->id];
    int64_t now, next;

    for (;;) {
        if (r->phase == CGI_IDLE) {
            int st;

            if (r->buf == NULL && (r->buf = malloc(2 * CGI_IOBUF)) == NULL) {
                wf_response_error(c, 500);
                return WF_DONE;
            }
            st = cgi_start(c, r);
            free(r->redirect);      /* started (or answered) */
            r->redirect = NULL;
            if (st != WF_AGAIN) {
                r->redirects = 0;
                req_cleanup(r);
                return st;
            }
        }
        if (wf_ready_fd(c) == r->client_fd && r->client_fd >= 0) {
            client_check(c, r);
        }
        for (;;) {
            int need_client = 0, need_stdin = 0, need_write = 0;
            size_t moved = 0;

            moved += pump_stderr(r);
            moved += pump_stdout(c, r, &need_write);
            moved += pump_stdin(c, r, &need_client, &need_stdin);
            now = now_ms();
            if (moved > 0) {
                r->deadline = now + timeout_ms();
            }
            if (r->pid > 0 && (r->pidfd < 0 ? now >= r->next_reap_poll
                                             : 1)) {
                try_reap(r);
                r->next_reap_poll = now + CGI_REAP_POLL_MS;
            }
            if (!r->killing && now >= r->deadline) {
                wf_log(WF_LOG_WARN, "cgi: %s: no output for %lds "
                       "(--cgi-timeout); killed", r->script_name,
                       cgi_opt_timeout);
                /* a 504 when nothing went out; else the close */
                wf_response_error(c, wf_response_started(c) ? 500 : 504);
                start_kill(r);
            }
            if (r->killing && !r->killed9 && now >= r->kill_at) {
                kill(-r->pgid, SIGKILL);
                r->killed9 = 1;
            }
            if (r->killed9 && r->pid <= 0) {
                /* SIGKILLed and reaped: whatever still holds stderr left
                 * the group on purpose; stop listening to it */
                close_fd(&r->out_fd);
                if (r->err_fd >= 0) {
                    log_stderr(r, 1);
                }
                close_fd(&r->err_fd);
            }
            if (r->out_fd < 0 && r->err_fd < 0 && r->pid <= 0) {
                break;      /* the script is over */
            }
            if (moved >= CGI_BUDGET) {
                /* a turn for the others; the run queue brings us back */
                return WF_AGAIN;
            }
            if (moved > 0) {
                continue;
            }
            /* nothing moves: wait */
            if (r->out_fd >= 0 && !need_write) {
                wf_wait_fd(c, r->out_fd, WF_IO_READ);
            }
            if (r->err_fd >= 0) {
                wf_wait_fd(c, r->err_fd, WF_IO_READ);
            }
            if (need_stdin && r->in_fd >= 0) {
                wf_wait_fd(c, r->in_fd, WF_IO_WRITE);
            }
            if (need_write) {
                wf_wait_fd(c, r->client_fd, WF_IO_WRITE);
            }
            if ((need_client && r->in_fd >= 0) ||
                (r->watch_client && !need_write)) {
                wf_wait_fd(c, r->client_fd, WF_IO_READ);
            }
            if (r->pid > 0 && r->pidfd >= 0) {
                wf_wait_fd(c, r->pidfd, WF_IO_READ);
            }
            next = r->deadline;
            if (r->killing) {
                next = r->killed9 ? now + CGI_REAP_POLL_MS : r->kill_at;
            }
            if (r->pid > 0 && r->pidfd < 0 && r->next_reap_poll < next) {
                next = r->next_reap_poll;
            }
            wf_wait_timer(c, next > now ? next - now : 1);
            return WF_AGAIN;
        }
        /* the script is over and reaped */
        if (r->redirect != NULL && !r->client_gone && !r->killing) {
            /* run the local redirect's target in the same request */
            char *redir = r->redirect;
            int redirects = r->redirects;

            req_cleanup(r);
            r->redirect = redir;
            r->redirects = redirects;
            continue;
        }
        free(r->redirect);
        r->redirect = NULL;
        r->redirects = 0;
        req_cleanup(r);
        return WF_DONE;
    }
}

static void
cgi_release(struct wf_core *c)
{
    struct cgi_req *r = &cgi_reqs[c->id];

    if (r->pid > 0) {
        wf_log(WF_LOG_INFO, "cgi: %s: request abandoned; script killed",
               r->script_name);
    }
    free(r->redirect);
    r->redirect = NULL;
    r->redirects = 0;
    req_cleanup(r);
}

static void
cgi_shutdown(void)
{
    kill_all_children();
}

static const struct wf_lang_ops cgi_ops = {
    .modifier1 = CGI_MODIFIER1,
    .init = cgi_init,
    .load_app = cgi_load_app,
    .worker_init = cgi_worker_init,
    .handle = cgi_handle,
    .release = cgi_release,
    .shutdown = cgi_shutdown,
};

static const struct wf_option cgi_options[] = {
    { "cgi", WF_OPT_LIST, &cgi_opt_mounts, NULL, 0, 0, 0,
      "serve the CGI scripts of DIR (or the one SCRIPT), at /mount when "
      "given; repeatable", 0, NULL, "[/mount=]DIR" },
    { "cgi-index", WF_OPT_LIST, &cgi_opt_index, NULL, 0, 0, 0,
      "a script that serves a directory's path ending in '/'; repeatable",
      0, NULL, "NAME" },
    { "cgi-allowed-ext", WF_OPT_LIST, &cgi_opt_allowed, NULL, 0, 0, 0,
      "run only scripts whose name ends so; repeatable", 0, NULL, "EXT" },
    { "cgi-helper", WF_OPT_LIST, &cgi_opt_helpers, NULL, 0, 0, 0,
      "run scripts ending in .EXT with this interpreter (e.g. "
      ".py=python3); repeatable", 0, NULL, ".EXT=CMD" },
    { "cgi-map-helper", WF_OPT_LIST, &cgi_opt_helpers, NULL, 0, 0,
      WF_OPT_F_HIDDEN, "same as --cgi-helper", 0, NULL, ".EXT=CMD" },
    { "cgi-timeout", WF_OPT_INT, &cgi_opt_timeout, "60", 1, 86400, 0,
      "kill a script that gives no output for this many seconds", 0, NULL,
      "SECONDS" },
    { "cgi-safe", WF_OPT_LIST, &cgi_opt_safe, NULL, 0, 0, 0,
      "allow scripts whose real path (symlinks followed) is under PATH "
      "though outside the mapped directory; repeatable", 0, NULL, "PATH" },
    { "cgi-path-info", WF_OPT_FLAG, &cgi_opt_no_path_info, NULL, 0, 0, 0,
      "disable PATH_INFO: the whole path must name the script", 0, NULL,
      NULL },
    { "cgi-unset", WF_OPT_LIST, &cgi_opt_unset, NULL, 0, 0, 0,
      "leave this variable out of scripts' environment; repeatable", 0,
      NULL, "NAME" },
    { "cgi-pass-env", WF_OPT_LIST, &cgi_opt_pass_env, NULL, 0, 0, 0,
      "pass weft's environment variable NAME to scripts; repeatable", 0,
      NULL, "NAME" },
    { "cgi-close-stdin-on-eof", WF_OPT_FLAG, &cgi_opt_close_stdin, NULL, 0,
      0, WF_OPT_F_HIDDEN, "accepted for uWSGI: stdin always closes at the "
      "end of the body", 0, NULL, NULL },
    { NULL }
};

WF_PLUGIN(cgi,
          .version = PACKAGE_VERSION,
          .kind = WF_KIND_LANG,
          .ops = &cgi_ops,
          .options = cgi_options,
          .summary = "language: CGI/1.1 scripts (RFC 3875), modifier1 9",
          /* per-core state only; scripts start with posix_spawn and
           * close-on-exec pipes: safe in every loop thread */
          .flags = WF_PLUGIN_F_THREADS);
