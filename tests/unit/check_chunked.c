/*
 * Unit tests of the incremental chunked body decoder (core/chunked.c).
 * Inputs are copied into exact-size heap buffers so that AddressSanitizer
 * sees any read past the end.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#include "check_util.h"

static struct wf__chunked st;

static void
setup(void)
{
    memset(&st, 0x5a, sizeof(st));  /* init must not rely on zeroed memory */
    wf__chunked_init(&st);
}

static void
teardown(void)
{
}

/*
 * Feed in[0..n) in pieces of at most `step` bytes (0: all at once), with
 * an output buffer of `outcap` bytes each call, until it is consumed, the
 * body is done, or an error. The decoded bytes go to out (at most cap).
 * Returns the total input consumed, or the error.
 */
static ssize_t
feed(const char *in, size_t n, size_t step, size_t outcap, char *out,
     size_t cap, size_t *outlen)
{
    size_t off = 0, piece, got;
    ssize_t rc;
    char *copy, *obuf = malloc(outcap > 0 ? outcap : 1);
    int stalls = 0;

    *outlen = 0;
    ck_assert_ptr_nonnull(obuf);
    while (off < n && !st.done) {
        piece = (step == 0 || n - off < step) ? n - off : step;
        copy = malloc(piece);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, in + off, piece);
        rc = wf__chunked_decode(&st, copy, piece, obuf, outcap, &got);
        free(copy);
        if (rc < 0) {
            free(obuf);
            return rc;
        }
        ck_assert_int_le(rc, (ssize_t) piece);
        ck_assert_uint_le(got, outcap);
        ck_assert_uint_le(*outlen + got, cap);
        memcpy(out + *outlen, obuf, got);
        *outlen += got;
        off += (size_t) rc;
        /* No progress twice in a row means a stall, not a full buffer. */
        stalls = (rc == 0 && got == 0) ? stalls + 1 : 0;
        ck_assert_msg(stalls < 2, "decoder stalled at %zu", off);
    }
    free(obuf);
    return (ssize_t) off;
}

/* ------------------------------------------------------------ good streams */

static const struct {
    struct bytes in, out;
} good[] = {
    { B("5\r\nhello\r\n0\r\n\r\n"), B("hello") },
    { B("5\nhello\n0\n\n"), B("hello") },
    { B("5\r\nhello\n0\r\n\n"), B("hello") },
    { B("A\r\n0123456789\r\n0\r\n\r\n"), B("0123456789") },
    { B("a\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n"), B("0123456789x") },
    { B("3;name=val\r\nabc\r\n0\r\n\r\n"), B("abc") },
    { B("3 ;x\r\nabc\r\n0\r\n\r\n"), B("abc") },
    { B("3\t \r\nabc\r\n0\r\n\r\n"), B("abc") },
    { B("3;a=\"q \\\"s\";b\r\nabc\r\n0;last\r\n\r\n"), B("abc") },
    { B("3\r\nabc\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n"), B("abc") },
    { B("3\r\nabc\r\n0\r\nX-T: 1\nY: 2\n\n"), B("abc") },
    { B("0\r\n\r\n"), B("") },
    { B("000\r\n\r\n"), B("") },
    { B("0001\r\n\0\r\n0\r\n\r\n"), B("\0") },
    { B("1\r\n\r\r\n0\r\n\r\n"), B("\r") },
    { B("2\r\n\r\n\r\n0\r\n\r\n"), B("\r\n") },
    { B("2\r\n0\r\r\n0\r\n\r\n"), B("0\r") },
    { B("FF\r\n"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
        "\r\n0\r\n\r\n"),
      B("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde") },
};

static void
check_good(int i, size_t step, size_t outcap)
{
    char out[512];
    size_t outlen;
    ssize_t rc;

    rc = feed(good[i].in.s, good[i].in.n, step, outcap, out, sizeof(out),
              &outlen);
    ck_assert_int_eq(rc, (ssize_t) good[i].in.n);
    ck_assert_int_eq(st.done, 1);
    ck_assert_uint_eq(outlen, good[i].out.n);
    ck_assert(memcmp(out, good[i].out.s, outlen) == 0);
}

START_TEST(valid_stream_decodes_in_one_call)
{
    check_good(_i, 0, 512);
}
END_TEST

START_TEST(valid_stream_decodes_one_byte_at_a_time)
{
    check_good(_i, 1, 512);
}
END_TEST

START_TEST(valid_stream_decodes_into_a_one_byte_buffer)
{
    check_good(_i, 0, 1);
}
END_TEST

START_TEST(valid_stream_decodes_byte_by_byte_into_a_one_byte_buffer)
{
    check_good(_i, 1, 1);
}
END_TEST

/* ------------------------------------------------------------- bad streams */

static char long_ext[5000];
static char long_trailer[5000];

static const struct bytes bad[] = {
    B("x\r\n"), B("\r\n"), B("\n"), B(";a\r\n"), B("-1\r\n"), B("+1\r\n"),
    B("0x5\r\n"), B(" 5\r\n"), B("5 5\r\n"), B("5\rX"), B("g\r\n"),
    B("5\r\nhelloX"), B("5\r\nhello\rX"), B("5\r\nhello\r\r\n"),
    B("5\r\nhelloo\r\n"), B("4000000000000001\r\n"),
    B("10000000000000000\r\n"), B("FFFFFFFFFFFFFFFFF\r\n"),
    B("5\r\nhello\r\n0\r\n\rX"), B("3;a\x01\r\n"), B("3;a\0\r\n"),
    B("3;a\x7f\r\n"), B("3;a\rb\r\n"), B("5\r\nhello\r\nz\r\n"),
    { long_ext, sizeof(long_ext) }, { long_trailer, sizeof(long_trailer) },
};

static void
bad_setup(void)
{
    setup();
    /* A size line over 4 KiB, and a trailer line over 4 KiB. */
    memcpy(long_ext, "1;", 2);
    memset(long_ext + 2, 'e', sizeof(long_ext) - 2);
    memcpy(long_trailer, "0\r\nX: ", 6);
    memset(long_trailer + 6, 't', sizeof(long_trailer) - 6);
}

START_TEST(bad_framing_is_ebadmsg)
{
    char out[64];
    size_t outlen;

    ck_assert_int_eq(feed(bad[_i].s, bad[_i].n, 0, sizeof(out), out,
                          sizeof(out), &outlen), -EBADMSG);
}
END_TEST

START_TEST(bad_framing_is_ebadmsg_one_byte_at_a_time)
{
    char out[64];
    size_t outlen;

    ck_assert_int_eq(feed(bad[_i].s, bad[_i].n, 1, sizeof(out), out,
                          sizeof(out), &outlen), -EBADMSG);
}
END_TEST

START_TEST(error_is_sticky)
{
    char out[8];
    size_t outlen;

    ck_assert_int_eq(wf__chunked_decode(&st, "x", 1, out, sizeof(out),
                                        &outlen), -EBADMSG);
    ck_assert_int_eq(wf__chunked_decode(&st, "0\r\n\r\n", 5, out,
                                        sizeof(out), &outlen), -EBADMSG);
    ck_assert_int_eq(st.done, 0);
}
END_TEST

static const struct {
    const char *in;
    uint64_t left;
} big_sizes[] = {
    { "4000000000000000\r\n", UINT64_C(1) << 62 },
    { "3fffffffffffffff\r\n", (UINT64_C(1) << 62) - 1 },
    { "00000000000000000000004000000000000000\r\n", UINT64_C(1) << 62 },
    { "ffffffff\r\n", UINT64_C(0xffffffff) },
};

START_TEST(sizes_up_to_2_pow_62_are_accepted)
{
    char out[8];
    size_t outlen;
    size_t n = strlen(big_sizes[_i].in);

    ck_assert_int_eq(wf__chunked_decode(&st, big_sizes[_i].in, n, out,
                                        sizeof(out), &outlen), (ssize_t) n);
    ck_assert_uint_eq(outlen, 0);
    ck_assert(st.left == big_sizes[_i].left);
    ck_assert_int_eq(wf__chunked_decode(&st, "abc", 3, out, sizeof(out),
                                        &outlen), 3);
    ck_assert_uint_eq(outlen, 3);
    ck_assert(st.left == big_sizes[_i].left - 3);
}
END_TEST

/* ------------------------------------------------------------------ limits */

START_TEST(bytes_after_the_last_chunk_are_not_consumed)
{
    static const char in[] = "2\r\nab\r\n0\r\nT: x\r\n\r\nGET / HTTP/1.1\r\n";
    char out[8];
    size_t outlen;

    ck_assert_int_eq(wf__chunked_decode(&st, in, sizeof(in) - 1, out,
                                        sizeof(out), &outlen),
                     (ssize_t) strlen("2\r\nab\r\n0\r\nT: x\r\n\r\n"));
    ck_assert_int_eq(st.done, 1);
    ck_assert_uint_eq(outlen, 2);
    /* Done stays done: nothing more is taken. */
    ck_assert_int_eq(wf__chunked_decode(&st, "5\r\n", 3, out, sizeof(out),
                                        &outlen), 0);
    ck_assert_uint_eq(outlen, 0);
}
END_TEST

START_TEST(full_output_buffer_stops_at_the_data)
{
    static const char in[] = "5\r\nhello\r\n0\r\n\r\n";
    char out[8];
    size_t outlen;

    /* With no room, only the size line is taken. */
    ck_assert_int_eq(wf__chunked_decode(&st, in, sizeof(in) - 1, out, 0,
                                        &outlen), 3);
    ck_assert_uint_eq(outlen, 0);
    /* With room for 2, two bytes of data. */
    ck_assert_int_eq(wf__chunked_decode(&st, in + 3, sizeof(in) - 4, out, 2,
                                        &outlen), 2);
    ck_assert_uint_eq(outlen, 2);
    ck_assert(memcmp(out, "he", 2) == 0);
    /* Then the rest. */
    ck_assert_int_eq(wf__chunked_decode(&st, in + 5, sizeof(in) - 6, out,
                                        sizeof(out), &outlen),
                     (ssize_t) sizeof(in) - 6);
    ck_assert_uint_eq(outlen, 3);
    ck_assert(memcmp(out, "llo", 3) == 0);
    ck_assert_int_eq(st.done, 1);
}
END_TEST

START_TEST(last_chunk_framing_needs_no_output_room)
{
    static const char in[] = "0\r\nA: b\r\n\r\n";
    char out[1];
    size_t outlen;

    ck_assert_int_eq(wf__chunked_decode(&st, in, sizeof(in) - 1, out, 0,
                                        &outlen), (ssize_t) sizeof(in) - 1);
    ck_assert_int_eq(st.done, 1);
}
END_TEST

START_TEST(size_line_of_exactly_4_kib_is_accepted)
{
    static char in[4096 + 16];
    char out[8];
    size_t outlen, n;

    /* "1" + ';' + extension = 4094 bytes, then CRLF: 4096 in all. */
    in[0] = '1';
    in[1] = ';';
    memset(in + 2, 'e', 4092);
    memcpy(in + 4094, "\r\nx\r\n0\r\n\r\n", 10);
    n = 4104;
    ck_assert_int_eq(feed(in, n, 0, sizeof(out), out, sizeof(out), &outlen),
                     (ssize_t) n);
    ck_assert_uint_eq(outlen, 1);
    /* One more byte of extension is too long. */
    wf__chunked_init(&st);
    memset(in + 2, 'e', 4093);
    memcpy(in + 4095, "\r\nx\r\n0\r\n\r\n", 10);
    ck_assert_int_eq(feed(in, n + 1, 0, sizeof(out), out, sizeof(out),
                          &outlen), -EBADMSG);
}
END_TEST

/* ------------------------------------------------------------ random split */

static uint64_t rnd_state;

static uint32_t
rnd(void)
{
    return wf_check_rand(&rnd_state);
}

/* A random valid chunked encoding of data[0..n) into enc (cap bytes). */
static size_t
encode_random(const char *data, size_t n, char *enc, size_t cap)
{
    size_t off = 0, e = 0, len;
    const char *eol;

    while (off < n) {
        len = 1 + rnd() % 300;
        if (len > n - off) {
            len = n - off;
        }
        eol = (rnd() % 4) ? "\r\n" : "\n";
        e += (size_t) snprintf(enc + e, cap - e, (rnd() & 1) ? "%zx" : "%zX",
                               len);
        if (rnd() % 3 == 0) {
            e += (size_t) snprintf(enc + e, cap - e, ";ext%u=%u", rnd() % 9,
                                   rnd());
        }
        e += (size_t) snprintf(enc + e, cap - e, "%s", eol);
        ck_assert_uint_le(e + len + 2, cap);
        memcpy(enc + e, data + off, len);
        e += len;
        off += len;
        e += (size_t) snprintf(enc + e, cap - e, "%s",
                               (rnd() % 4) ? "\r\n" : "\n");
    }
    e += (size_t) snprintf(enc + e, cap - e, "0\r\n%s\r\n",
                           (rnd() & 1) ? "Trailer: yes\r\n" : "");
    return e;
}

START_TEST(random_splits_of_a_valid_stream_give_the_same_output)
{
    static char data[4096], enc[16384], out[4096], obuf[512], piece[16384];
    size_t n, elen, off, outlen, cut, got, outcap;
    ssize_t rc;
    int iter, k;

    rnd_state = UINT64_C(0x2545F4914F6CDD1D);
    for (iter = 0; iter < 2000; iter++) {
        n = rnd() % sizeof(data);
        for (k = 0; k < (int) n; k++) {
            data[k] = (char) rnd();     /* CR, LF and '0' included */
        }
        elen = encode_random(data, n, enc, sizeof(enc));
        wf__chunked_init(&st);
        off = outlen = 0;
        while (off < elen) {
            cut = 1 + rnd() % (elen - off < 64 ? elen - off : 64);
            if (rnd() % 8 == 0) {
                cut = elen - off;
            }
            outcap = (rnd() % 4) ? sizeof(obuf) : rnd() % 8;
            memcpy(piece, enc + off, cut);
            rc = wf__chunked_decode(&st, piece, cut, obuf, outcap, &got);
            ck_assert_msg(rc >= 0, "iteration %d: error at %zu", iter, off);
            ck_assert_int_le(rc, (ssize_t) cut);
            ck_assert_uint_le(got, outcap);
            memcpy(out + outlen, obuf, got);
            outlen += got;
            off += (size_t) rc;
        }
        ck_assert_int_eq(st.done, 1);
        ck_assert_uint_eq(outlen, n);
        ck_assert(memcmp(out, data, n) == 0);
    }
}
END_TEST

START_TEST(random_garbage_never_overruns)
{
    static const char alphabet[] = "0123456789abcdefABCDEFxX;= \t\r\n\0-";
    char in[256], out[64];
    size_t n, outlen;
    ssize_t rc;
    int iter, k, errors = 0;

    rnd_state = UINT64_C(0xD1B54A32D192ED03);
    for (iter = 0; iter < 20000; iter++) {
        n = 1 + rnd() % sizeof(in);
        for (k = 0; k < (int) n; k++) {
            in[k] = (rnd() % 4) ? alphabet[rnd() % (sizeof(alphabet) - 1)]
                                : (char) rnd();
        }
        wf__chunked_init(&st);
        rc = wf__chunked_decode(&st, in, n, out, rnd() % sizeof(out),
                                &outlen);
        ck_assert(rc == -EBADMSG || (rc >= 0 && rc <= (ssize_t) n));
        ck_assert_uint_le(outlen, sizeof(out));
        errors += rc < 0;
    }
    ck_assert_int_gt(errors, 1000);
}
END_TEST

/* ------------------------------------------------------------------- suite */

static Suite *
chunked_suite(void)
{
    Suite *s = suite_create("chunked");
    TCase *tc;

    tc = wf_check_tcase(s, "decode", 10, setup, teardown);
    tcase_add_loop_test(tc, valid_stream_decodes_in_one_call, 0,
                        NELEM(good));
    tcase_add_loop_test(tc, valid_stream_decodes_one_byte_at_a_time, 0,
                        NELEM(good));
    tcase_add_loop_test(tc, valid_stream_decodes_into_a_one_byte_buffer, 0,
                        NELEM(good));
    tcase_add_loop_test(tc,
        valid_stream_decodes_byte_by_byte_into_a_one_byte_buffer, 0,
        NELEM(good));
    tcase_add_loop_test(tc, sizes_up_to_2_pow_62_are_accepted, 0,
                        NELEM(big_sizes));

    tc = wf_check_tcase(s, "framing_errors", 10, bad_setup, teardown);
    tcase_add_loop_test(tc, bad_framing_is_ebadmsg, 0, NELEM(bad));
    tcase_add_loop_test(tc, bad_framing_is_ebadmsg_one_byte_at_a_time, 0,
                        NELEM(bad));
    tcase_add_test(tc, error_is_sticky);

    tc = wf_check_tcase(s, "limits", 10, setup, teardown);
    tcase_add_test(tc, bytes_after_the_last_chunk_are_not_consumed);
    tcase_add_test(tc, full_output_buffer_stops_at_the_data);
    tcase_add_test(tc, last_chunk_framing_needs_no_output_room);
    tcase_add_test(tc, size_line_of_exactly_4_kib_is_accepted);

    tc = wf_check_tcase(s, "random", 120, setup, teardown);
    tcase_add_test(tc, random_splits_of_a_valid_stream_give_the_same_output);
    tcase_add_test(tc, random_garbage_never_overruns);
    return s;
}

WF_CHECK_MAIN(chunked_suite)
