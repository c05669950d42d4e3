/*
 * Static files (core/static.c): what the loop and the option table need.
 * Core internal.
 */
#ifndef WEFT_CORE_STATIC_H
#define WEFT_CORE_STATIC_H

#include <stddef.h>

#include <weft/plugin.h>

struct wf__conn;
struct wf__core;

/* Why wf__static_resolve refused a path (returned negated). */
#define WF_STATIC_BAD 1         /* bad percent-encoding: 400 */
#define WF_STATIC_FORBIDDEN 2   /* could leave the root: 403 */
#define WF_STATIC_TOO_LONG 3    /* does not fit: 414 */

/* --static-map and friends (ends with { NULL }). */
extern const struct wf_option wf__static_options[];

/*
 * Map the request path `rel` (rellen bytes, still percent-encoded, the
 * query string removed) onto directory root (rootlen bytes, no trailing
 * '/'; 0 for "/"): out receives root + "/" + the decoded segments, NUL
 * terminated. Empty and "." segments are dropped. Refused, before any
 * file system access: ".." (decoded or not), an encoded '/' or NUL, '\\',
 * control bytes, and segments that are not strict UTF-8 (overlong forms,
 * surrogates). Pure: no I/O, no allocation. Returns the length of out, or
 * -WF_STATIC_BAD, -WF_STATIC_FORBIDDEN, -WF_STATIC_TOO_LONG (cap bytes do
 * not hold it). Any context.
 */
int wf__static_resolve(const char *root, size_t rootlen, const char *rel,
                       size_t rellen, char *out, size_t cap);

/*
 * Called by the loop once it has bound request k to core c (language
 * chosen, response initialised): when a static root serves k (a file, or
 * a refusal such as 403), c->lang becomes the static file handler (and
 * c->lang_switch 0) and 1 is returned; else 0 and c is untouched. Opens
 * the file. Loop context (or the loop engine's context for c).
 */
int wf__static_route(struct wf__conn *k, struct wf__core *c);

/* 1 when core c serves a static file (or a static refusal). */
int wf__static_serves(const struct wf__core *c);

#endif
