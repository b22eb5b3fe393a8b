// The C kernels on their own, for the portability check (scripts/check-portability.sh): each
// kernel against a plain statement of its contract where that is exact, then one FNV-1a hash of
// every output bit. The script compares the hashes of the x86-64 scalar path, the x86-64 best
// path and an aarch64 build run under qemu: every kernel must give the same bits everywhere.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "omnizip_kernels.h"

static uint64_t hash = 1469598103934665603ull;
static int failures = 0;

static void mix(const void *data, size_t bytes) {
    const unsigned char *p = data;
    for (size_t i = 0; i < bytes; i++) hash = (hash ^ p[i]) * 1099511628211ull;
}

static void expect(int ok, const char *what, size_t index) {
    if (!ok && failures++ < 10) fprintf(stderr, "kernel_check: %s differs at %zu\n", what, index);
}

static uint32_t state = 12345u;
static float next_value(void) {  // ordinary numbers in [-1, 1), a few exact repeats
    state = state * 1664525u + 1013904223u;
    return (float)(int32_t)(state >> 8) / (float)(1 << 23) - 1.0f;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

static void check_gram(size_t p, size_t d) {
    float *rows = malloc(p * d * sizeof(float)), *out = malloc(p * p * sizeof(float));
    float *scratch = malloc(omnizip_gram_scratch(p, d) * sizeof(float));
    for (size_t i = 0; i < p * d; i++) rows[i] = next_value();
    omnizip_gram_fma(rows, p, d, out, scratch);
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++) {
            float acc = 0;  // the contract: one fused multiply-add chain in ascending k
            for (size_t k = 0; k < d; k++) acc = fmaf(rows[i * d + k], rows[j * d + k], acc);
            expect(same_bits(out[i * p + j], acc), "gram", i * p + j);
        }
    mix(out, p * p * sizeof(float));
    // Bands of rows from one packing: the same bits as the whole matrix's rows.
    float *band = malloc(p * p * sizeof(float));
    omnizip_gram_pack(rows, p, d, scratch);
    for (size_t first = 0; first < p; first += 5) {
        size_t last = first + 5 < p ? first + 5 : p;
        omnizip_gram_rows_fma(rows, p, d, first, last, band, scratch);
        for (size_t i = 0; i < (last - first) * p; i++) expect(same_bits(band[i], out[first * p + i]), "gram band", first * p + i);
    }
    free(rows); free(out); free(scratch); free(band);
}

static void check_elementwise(size_t n) {
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float)), *z = malloc(n * sizeof(float));
    uint16_t *half = malloc(n * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) x[i] = next_value(), y[i] = next_value();
    float dot = omnizip_dot_pairwise(x, y, n);
    mix(&dot, sizeof dot);

    omnizip_divide(x, 3.0f, z, n);
    for (size_t i = 0; i < n; i++) expect(same_bits(z[i], x[i] / 3.0f), "divide", i);
    mix(z, n * sizeof(float));

    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        half[i] = (uint16_t)(bits >> 16);
    }
    expect(omnizip_widen_bf16(half, n, z) == 1, "widen_bf16 finite flag", 0);
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)half[i] << 16;
        float expected;
        memcpy(&expected, &bits, 4);
        expect(same_bits(z[i], expected), "widen_bf16", i);
    }
    mix(z, n * sizeof(float));

    int f16_finite = omnizip_widen_f16(half, n, z);  // the same bits read as F16: the hash decides
    mix(&f16_finite, sizeof f16_finite);
    mix(z, n * sizeof(float));

    expect(omnizip_copy_f32(x, n, z) == 1, "copy_f32 finite flag", 0);
    expect(memcmp(x, z, n * sizeof(float)) == 0, "copy_f32", 0);
    free(x); free(y); free(z); free(half);
}

int main(void) {
    const size_t gram_shapes[][2] = {{1, 1}, {7, 3}, {37, 131}, {120, 64}};
    for (size_t s = 0; s < sizeof gram_shapes / sizeof gram_shapes[0]; s++) check_gram(gram_shapes[s][0], gram_shapes[s][1]);
    const size_t lengths[] = {0, 1, 7, 8, 127, 128, 129, 1000, 3584, 16385};
    for (size_t s = 0; s < sizeof lengths / sizeof lengths[0]; s++) check_elementwise(lengths[s]);
    printf("%s %016llx\n", omnizip_kernels_isa(), (unsigned long long)hash);
    return failures ? 1 : 0;
}
