// Row-wise kernels whose rounding must not depend on the CPU: pairwise sums in numpy's order,
// true division, exact BF16 widening.
// Each kernel's order of operations is part of its contract: no multiply-add is fused unless
// written as an explicit fma (the compiler may not contract a * b + c).
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#include "omnizip_kernels.h"
#include "dispatch.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static float combine8(const float r[8]) {
    return ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
}

static float block_scalar(const float *x, const float *y, size_t n) {
    float r[8];
    for (int l = 0; l < 8; l++) r[l] = x[l] * y[l];
    size_t i = 8;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            float product = x[i + l] * y[i + l];
            r[l] = r[l] + product;
        }
    float s = combine8(r);
    for (; i < n; i++) {
        float product = x[i] * y[i];
        s = s + product;
    }
    return s;
}

#if defined(__x86_64__)
__attribute__((target("avx2")))
static float block_avx2(const float *x, const float *y, size_t n) {
    __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(y));
    size_t i = 8;
    for (; i + 8 <= n; i += 8) acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    float r[8];
    _mm256_storeu_ps(r, acc);
    float s = combine8(r);
    for (; i < n; i++) {
        float product = x[i] * y[i];
        s = s + product;
    }
    return s;
}
#endif

static size_t split(size_t n) { return n / 2 - (n / 2) % 8; }

#if defined(__x86_64__)
// Four equal leaves side by side: each is still one chain in block_avx2's order, only
// independent chains run together (one chain alone waits on the adder's latency).
__attribute__((target("avx2")))
static void four_blocks_avx2(const float *x, const float *y, const size_t offsets[4], size_t n, float sums[4]) {
    __m256 acc[4];
    for (int b = 0; b < 4; b++) acc[b] = _mm256_mul_ps(_mm256_loadu_ps(x + offsets[b]), _mm256_loadu_ps(y + offsets[b]));
    size_t i = 8;
    for (; i + 8 <= n; i += 8)
        for (int b = 0; b < 4; b++)
            acc[b] = _mm256_add_ps(acc[b], _mm256_mul_ps(_mm256_loadu_ps(x + offsets[b] + i), _mm256_loadu_ps(y + offsets[b] + i)));
    for (int b = 0; b < 4; b++) {
        float r[8];
        _mm256_storeu_ps(r, acc[b]);
        float s = combine8(r);
        for (size_t j = i; j < n; j++) {
            float product = x[offsets[b] + j] * y[offsets[b] + j];
            s = s + product;
        }
        sums[b] = s;
    }
}
#endif

static float pairwise(const float *x, const float *y, size_t n, int avx2) {
    if (n < 8) {
        float s = 0;
        for (size_t i = 0; i < n; i++) {
            float product = x[i] * y[i];
            s = s + product;
        }
        return s;
    }
    if (n <= 128) {
#if defined(__x86_64__)
        if (avx2) return block_avx2(x, y, n);
#endif
        return block_scalar(x, y, n);
    }
    size_t half = split(n);
#if defined(__x86_64__)
    // A node whose two halves each split into two leaves of one length (D = 3584: every
    // node of 448): its four leaves at once, added as the recursion would.
    if (avx2 && half > 128 && n - half > 128) {
        size_t a = split(half), b = split(n - half);
        size_t length = a;
        if (half - a == length && b == length && n - half - b == length && length <= 128) {
            size_t offsets[4] = {0, a, half, half + b};
            float sums[4];
            four_blocks_avx2(x, y, offsets, length, sums);
            return (sums[0] + sums[1]) + (sums[2] + sums[3]);
        }
    }
#endif
    return pairwise(x, y, half, avx2) + pairwise(x + half, y + half, n - half, avx2);
}

float omnizip_dot_pairwise(const float *x, const float *y, size_t n) {
    return pairwise(x, y, n, omnizip_isa_now() >= OMNIZIP_AVX2);
}

#if defined(__x86_64__)
__attribute__((target("avx512f")))
static void divide_avx512(const float *src, float divisor, float *dst, size_t n) {
    __m512 v = _mm512_set1_ps(divisor);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_div_ps(_mm512_loadu_ps(src + i), v));
    for (; i < n; i++) dst[i] = src[i] / divisor;
}

__attribute__((target("avx2")))
static void divide_avx2(const float *src, float divisor, float *dst, size_t n) {
    __m256 v = _mm256_set1_ps(divisor);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_div_ps(_mm256_loadu_ps(src + i), v));
    for (; i < n; i++) dst[i] = src[i] / divisor;
}
#endif

void omnizip_divide(const float *src, float divisor, float *dst, size_t n) {
#if defined(__x86_64__)
    enum omnizip_isa isa = omnizip_isa_now();
    if (isa >= OMNIZIP_AVX512) { divide_avx512(src, divisor, dst, n); return; }
    if (isa == OMNIZIP_AVX2) { divide_avx2(src, divisor, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = src[i] / divisor;
}

// Widens elements [from, n); returns 0 if any is NaN or infinite.
static int widen_scalar(const uint8_t *src, size_t from, size_t n, float *dst) {
    int finite = 1;
    for (size_t i = from; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        uint32_t w = (uint32_t)h << 16;
        if ((w & 0x7F800000u) == 0x7F800000u) finite = 0;
        memcpy(dst + i, &w, 4);
    }
    return finite;
}

#if defined(__x86_64__)
__attribute__((target("avx512f")))
static int widen_avx512(const uint8_t *src, size_t n, float *dst) {
    __m512i exponent = _mm512_set1_epi32(0x7F800000);
    __mmask16 bad = 0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i h = _mm256_loadu_si256((const __m256i *)(src + 2 * i));
        __m512i w = _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
        bad |= _mm512_cmpeq_epi32_mask(_mm512_and_si512(w, exponent), exponent);
        _mm512_storeu_si512(dst + i, w);
    }
    return widen_scalar(src, i, n, dst) && bad == 0;
}

// The scalar loop's finite flag kept the compiler from vectorising it: on the AVX2 path the
// widening of every video row cost about a tenth of the per-frame pass.
__attribute__((target("avx2")))
static int widen_avx2(const uint8_t *src, size_t n, float *dst) {
    __m256i exponent = _mm256_set1_epi32(0x7F800000);
    __m256i bad = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i h0 = _mm_loadu_si128((const __m128i *)(src + 2 * i));
        __m128i h1 = _mm_loadu_si128((const __m128i *)(src + 2 * i + 16));
        __m256i w0 = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h0), 16);
        __m256i w1 = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h1), 16);
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(w0, exponent), exponent));
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(w1, exponent), exponent));
        _mm256_storeu_si256((__m256i *)(dst + i), w0);
        _mm256_storeu_si256((__m256i *)(dst + i + 8), w1);
    }
    return widen_scalar(src, i, n, dst) && _mm256_testz_si256(bad, bad);
}
#endif

int omnizip_widen_bf16(const void *src, size_t n, float *dst) {
    const uint8_t *bytes = (const uint8_t *)src;
#if defined(__x86_64__)
    if (omnizip_isa_now() >= OMNIZIP_AVX512) return widen_avx512(bytes, n, dst);
    if (omnizip_isa_now() == OMNIZIP_AVX2) return widen_avx2(bytes, n, dst);
#endif
    return widen_scalar(bytes, 0, n, dst);
}

// IEEE half to float, exactly (subnormals, infinities and NaN included).
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu, bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int shift = 0;
            while (!(mantissa & 0x400u)) { mantissa <<= 1; shift++; }
            bits = sign | ((uint32_t)(113 - shift) << 23) | ((mantissa & 0x3FFu) << 13);
        }
    } else {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static int widen_f16_scalar(const uint8_t *src, size_t from, size_t n, float *dst) {
    int finite = 1;
    for (size_t i = from; i < n; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        if ((h & 0x7C00u) == 0x7C00u) finite = 0;
        dst[i] = half_to_float(h);
    }
    return finite;
}

#if defined(__x86_64__)
__attribute__((target("avx2,f16c")))
static int widen_f16_avx2(const uint8_t *src, size_t n, float *dst) {
    __m128i exponent = _mm_set1_epi16(0x7C00);
    __m128i bad = _mm_setzero_si128();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + 2 * i));
        bad = _mm_or_si128(bad, _mm_cmpeq_epi16(_mm_and_si128(h, exponent), exponent));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    return widen_f16_scalar(src, i, n, dst) && _mm_testz_si128(bad, bad);
}
#endif

int omnizip_widen_f16(const void *src, size_t n, float *dst) {
#if defined(__x86_64__)
    if (omnizip_isa_now() >= OMNIZIP_AVX2 && __builtin_cpu_supports("f16c")) return widen_f16_avx2((const uint8_t *)src, n, dst);
#endif
    return widen_f16_scalar((const uint8_t *)src, 0, n, dst);
}

int omnizip_copy_f32(const void *src, size_t n, float *dst) {
    memcpy(dst, src, n * sizeof(float));
    // x * 0 is NaN exactly when x is NaN or infinite; summing keeps the loop branch-free.
    float poison = 0;
    for (size_t i = 0; i < n; i++) poison += dst[i] * 0.0f;
    return poison == 0;
}
