/*
 * What every fuzz target shares. A target defines LLVMFuzzerTestOneInput
 * (and may define LLVMFuzzerInitialize); it is linked either with libFuzzer
 * (./configure --enable-fuzzing, clang) or with fuzz/standalone.c, which
 * replays the seed corpus and the regression inputs as a unit test.
 *
 * A target checks more than "no crash": an invariant it finds broken is
 * FUZZ_CHECK, which aborts with the line, so libFuzzer keeps the input.
 */
#ifndef WEFT_FUZZ_H
#define WEFT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond) do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", \
                    __FILE__, __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

#endif
