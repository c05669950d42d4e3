/*
 * weft plugin ABI version.
 *
 * Bump WF_ABI_MAJOR when an existing struct of include/weft/ changes layout or
 * meaning; bump WF_ABI_MINOR when a field is appended (old plugins still load
 * because the loader checks the descriptor size). Add a dated line below.
 *
 * 2026-11-26  1.0  first ABI: plugin descriptor, four ops tables, core API.
 * 2026-11-26  1.1  wf_lang_ops.backtrace and wf_suspend_ops.backtrace
 *                  appended; wf_loop_ops given its
 *                  first real shape (no plugin had used it); loop-engine
 *                  and option functions added to the core API.
 * 2026-11-26  1.2  wf_lang_ops.loop_wait appended; wf_opt_long,
 *                  wf_loop_heartbeat, wf_harakiri, wf_request_age_ms added.
 * 2026-12-04  1.3  HTTP policy in the core API: wf_http_status_check,
 *                  wf_http_header_check, wf_http_verdict_text,
 *                  wf_http_reason, wf_response_status_code,
 *                  wf_response_refusal, wf_response_length,
 *                  wf_response_file, wf_req_line.
 * 2026-12-04  1.4  wf_loop_ops.cancel, .wake, .backtrace, .max_wait_fds
 *                  appended; wf_loop_tick, wf_loop_tick_ms,
 *                  wf_loop_mercy_left_ms added: the core decides the
 *                  worker's policy for loop engines too.
 * 2026-12-04  1.5  wf_route_prefix (HTTP requests to a language by path
 *                  prefix: the CGI plugin's mount points), wf_path_resolve
 *                  (the static files' path rules for plugins).
 * 2026-12-05  1.6  --threads: wf_suspend_ops.thread_init/thread_fini and
 *                  wf_lang_ops.thread_init/thread_fini appended,
 *                  WF_PLUGIN_F_THREADS (a plugin that works in a worker of
 *                  several loop threads); loop_wait is also called around
 *                  a core's in-place waits.
 * 2026-12-06  1.7  wf_loop_conn_fd (a loop engine keeps one watcher on a
 *                  connection across its waits).
 *
 * A field appended in minor M is read only from plugins built with minor
 * >= M (their ops tables are shorter otherwise): see WF_HAS_OP.
 */
#ifndef WEFT_ABI_H
#define WEFT_ABI_H

#define WF_ABI_MAJOR 1
#define WF_ABI_MINOR 7

/* "weft" in ASCII: the first word of every plugin descriptor. */
#define WF_PLUGIN_MAGIC 0x77656674u

/*
 * Build options that change what a plugin may assume about the binary. A
 * plugin built with AddressSanitizer must not be loaded into a weft built
 * without it (and the reverse): the allocator and the stack layout differ.
 */
#define WF_BUILD_F_ASAN 0x1u

#if defined(__SANITIZE_ADDRESS__)
#define WF_BUILD_FLAGS WF_BUILD_F_ASAN
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WF_BUILD_FLAGS WF_BUILD_F_ASAN
#endif
#endif
#ifndef WF_BUILD_FLAGS
#define WF_BUILD_FLAGS 0u
#endif

/* Whether plugin p (a struct wf_plugin *) was built with ops field `field`
 * of its ops table `ops`, appended in ABI minor `minor`, and set it. */
#define WF_HAS_OP(p, ops, field, minor)                                    \
    ((p)->abi_minor >= (minor) && (ops)->field != NULL)

/* Marks the core API that the weft binary exports to its plugins; the rest
 * of the binary is built with -fvisibility=hidden. */
#define WF_API __attribute__((visibility("default")))

#endif
