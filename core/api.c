/*
 * The small core API: versions, the worker's identity, the current core and
 * the request's variables (include/weft/core.h).
 */
#include "loop.h"

/* --------------------------------------------------------- small API */

WF_API const char *
wf_version(void)
{
    return PACKAGE_VERSION;
}

/* This process's worker number (0 in the master). */
unsigned wf__worker_id;

WF_API unsigned
wf_worker_id(void)
{
    return wf__worker_id;
}

/* Cores per worker: --async (or 1) in each of its --threads loops. */
WF_API unsigned
wf_ncores(void)
{
    return wf__cores_per_loop() * wf__nthreads();
}

unsigned
wf__cores_per_loop(void)
{
    return wf__cfg.async > 0 ? (unsigned)wf__cfg.async : 1;
}

unsigned
wf__nthreads(void)
{
    return wf__cfg.threads > 1 ? (unsigned)wf__cfg.threads : 1;
}

WF_API int
wf_has_suspend_engine(void)
{
    return wf__sus_ops != NULL;
}

WF_API const char *
wf_suspend_engine_name(void)
{
    return wf__sus_plugin ? wf__sus_plugin->name : NULL;
}

WF_API struct wf_core *
wf_core_current(void)
{
    struct wf__loop *L = wf__L;

    return L != NULL ? L->st->current(L) : NULL;
}

WF_API long
wf_socket_timeout_ms(void)
{
    return wf__cfg.socket_timeout * 1000;
}

WF_API const struct wf_var *
wf_req_vars(const struct wf_core *c, unsigned *n)
{
    const struct wf__conn *k = ((const struct wf__core *)c)->conn;

    *n = k->req.nvars;
    return k->req.vars;
}

WF_API const char *
wf_req_get(const struct wf_core *c, const char *key, size_t *vlen)
{
    return wf__req_get(&((const struct wf__core *)c)->conn->req, key, vlen);
}

WF_API unsigned
wf_req_modifier1(const struct wf_core *c)
{
    return ((const struct wf__core *)c)->conn->req.modifier1;
}

WF_API int
wf_req_fd(const struct wf_core *c)
{
    return ((const struct wf__core *)c)->conn->fd;
}
