/*
 * Routing of HTTP requests to a language by path prefix (core/route.c):
 * what core/conn.c needs. Core internal.
 */
#ifndef WEFT_CORE_ROUTE_H
#define WEFT_CORE_ROUTE_H

#include "proto.h"

/*
 * The modifier1 of HTTP request r: the one of the longest prefix that a
 * language registered with wf_route_prefix() and that r's PATH_INFO
 * matches, or dflt (the socket's) when none does or when the socket has
 * a modifier1 of its own (dflt != 0). Loop context; no allocation.
 */
unsigned wf__route_http(const struct wf__req *r, unsigned dflt);

#endif
