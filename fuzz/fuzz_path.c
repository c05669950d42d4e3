/*
 * Fuzz target: the static-path resolver (core/static.c wf__static_resolve,
 * offered to plugins as wf_path_resolve in core/route.c): a request path,
 * still percent-encoded, mapped onto a root directory.
 *
 * The input's first byte picks the root ("" for "/", or a directory) and
 * the room given for the result; the rest is the request path. Checked
 * beyond ASan/UBSan: the verdict is a length or one of the three refusals;
 * a result fits its room, is NUL-terminated with no NUL inside, is the
 * root itself or starts with the root and a '/' (never "/rootX" for
 * "/root"), and is never
 * outside the root: no "..", "." or empty segment, no backslash or control
 * byte. A result, percent-encoded again ('%' only), resolves to itself (the
 * decoding is done once and whole), and the public wf_path_resolve gives
 * the same path or the HTTP status of the same refusal.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <weft/plugin.h>

#include "fuzz.h"
#include "static.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

static const char *const roots[] = { "", "/srv/www", "/r", "/a/b/c" };

/* out[0..n) names a place under root: root, then '/'-separated segments
 * that are neither empty, ".", nor "..", with no '\\' or control byte. */
static void
check_under_root(const char *out, size_t n, const char *root, size_t rl)
{
    size_t i, seg;

    FUZZ_CHECK(n >= 1 && n >= rl);
    FUZZ_CHECK(memcmp(out, root, rl) == 0);
    if (n == rl) {
        return;             /* the root itself ("/r" for "/", "/r/.") */
    }
    FUZZ_CHECK(out[rl] == '/');
    if (n == rl + 1) {
        FUZZ_CHECK(rl == 0);    /* "/" is the root "" itself */
        return;
    }
    seg = rl + 1;
    for (i = rl + 1; i <= n; i++) {
        if (i == n || out[i] == '/') {
            size_t len = i - seg;

            FUZZ_CHECK(len > 0);
            FUZZ_CHECK(!(len == 1 && out[seg] == '.'));
            FUZZ_CHECK(!(len == 2 && out[seg] == '.' && out[seg + 1] == '.'));
            seg = i + 1;
            continue;
        }
        FUZZ_CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f &&
                   out[i] != '\\');
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *root, *rel;
    size_t rl, reln, cap, i, k;
    char *out, *again, *enc, *pub;
    int n, n2, p;

    if (size < 1) {
        return 0;
    }
    root = roots[data[0] & 3];
    rl = strlen(root);
    switch ((data[0] >> 2) % 5) {
    case 0: cap = rl + 1; break;        /* too small for any result */
    case 1: cap = rl + 2; break;        /* just the root */
    case 2: cap = rl + 9; break;
    case 3: cap = 64; break;
    default: cap = 8192; break;
    }
    rel = (const char *)data + 1;
    reln = size - 1;

    out = malloc(cap);
    again = malloc(cap);
    pub = malloc(cap);
    enc = malloc(3 * cap + 1);
    FUZZ_CHECK(out && again && pub && enc);

    n = wf__static_resolve(root, rl, rel, reln, out, cap);
    FUZZ_CHECK(n >= 0 || n == -WF_STATIC_BAD || n == -WF_STATIC_FORBIDDEN ||
               n == -WF_STATIC_TOO_LONG);
    p = wf_path_resolve(root, rl, rel, reln, pub, cap);
    if (n >= 0) {
        FUZZ_CHECK((size_t)n < cap && out[n] == '\0');
        FUZZ_CHECK(strlen(out) == (size_t)n);
        check_under_root(out, (size_t)n, root, rl);
        FUZZ_CHECK(p == n && memcmp(pub, out, (size_t)n + 1) == 0);

        /* what it decoded to, encoded again, decodes to the same */
        for (i = rl, k = 0; i < (size_t)n; i++) {
            if (out[i] == '%') {
                memcpy(enc + k, "%25", 3);
                k += 3;
            } else {
                enc[k++] = out[i];
            }
        }
        n2 = wf__static_resolve(root, rl, enc, k, again, cap);
        FUZZ_CHECK(n2 == n && memcmp(again, out, (size_t)n + 1) == 0);
    } else {
        FUZZ_CHECK(p == (n == -WF_STATIC_BAD ? -400 :
                         n == -WF_STATIC_FORBIDDEN ? -403 : -414));
    }
    free(out);
    free(again);
    free(pub);
    free(enc);
    return 0;
}
