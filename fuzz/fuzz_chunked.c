/*
 * Fuzz target: the chunked body decoder (core/chunked.c).
 *
 * The input is decoded twice: in one call with room for everything, and
 * in pieces (input split and output room chosen by the input's first
 * byte) as the body reader meets it. Both must agree: the same verdict,
 * the same bytes out, the same input consumed, and never more output
 * than input.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <string.h>
#include <stdlib.h>

#include "fuzz.h"
#include "proto.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wf__chunked a, b;
    const char *in;
    char *out1, *out2;
    size_t outlen = 0, out2len = 0, off = 0, split, room;
    ssize_t used;
    int bad1, bad2 = 0;

    if (size < 1) {
        return 0;
    }
    split = 1 + data[0] % 17;
    room = 1 + (data[0] >> 4) * 3;
    in = (const char *)data + 1;
    size--;

    out1 = malloc(size + 1);
    out2 = malloc(size + 1);
    FUZZ_CHECK(out1 && out2);

    wf__chunked_init(&a);
    used = wf__chunked_decode(&a, in, size, out1, size, &outlen);
    bad1 = used < 0;
    FUZZ_CHECK(used == -EBADMSG || (used >= 0 && (size_t)used <= size));
    FUZZ_CHECK(outlen <= size);
    if (!bad1 && !a.done) {
        FUZZ_CHECK((size_t)used == size);   /* room for all: all eaten */
    }

    wf__chunked_init(&b);
    while (off < size && !b.done) {
        size_t n = size - off < split ? size - off : split, got = 0;
        size_t r = size + 1 - out2len < room ? size + 1 - out2len : room;
        ssize_t u = wf__chunked_decode(&b, in + off, n, out2 + out2len, r,
                                       &got);

        if (u < 0) {
            bad2 = 1;
            break;
        }
        FUZZ_CHECK((size_t)u <= n && got <= r);
        off += (size_t)u;
        out2len += got;
        if (u == 0 && got == 0) {
            /* no progress: only when the body ended */
            FUZZ_CHECK(b.done);
        }
    }
    FUZZ_CHECK(bad1 == bad2);
    if (!bad1) {
        FUZZ_CHECK(a.done == b.done);
        FUZZ_CHECK(outlen == out2len);
        FUZZ_CHECK(memcmp(out1, out2, outlen) == 0);
        if (a.done) {
            FUZZ_CHECK((size_t)used == off);
        }
    }
    free(out1);
    free(out2);
    return 0;
}
