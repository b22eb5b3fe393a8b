#ifndef OMNIZIP_KERNELS_H
#define OMNIZIP_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// out[i*p + j] = sum_k rows[i*d + k] * rows[j*d + k] for a P x D row-major matrix, each entry
/// one fused multiply-add chain in ascending k. This is the order a GEMM micro-kernel uses, and
/// it gives the same bits on every CPU (the vector paths only run many chains side by side),
/// which matters where near-ties are settled by the last bit.
/// `scratch` must hold at least d * round_up(p, 32) floats.
void omnizip_gram_fma(const float *rows, size_t p, size_t d, float *out, float *scratch);

/// Which implementation omnizip_gram_fma dispatches to on this CPU: "avx512", "avx2" or "scalar".
const char *omnizip_gram_fma_isa(void);

#ifdef __cplusplus
}
#endif

#endif
