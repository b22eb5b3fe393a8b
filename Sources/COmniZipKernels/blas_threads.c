// OpenBLAS's pthread build starts its own thread pool when the library loads, and those threads
// spin for a while waiting for work. Our workers call BLAS single-threaded, so that pool only
// steals a core: in a short-lived `omnizip compress` it cost ~45 ms in a third of the runs.
// Weak references keep this working with OpenBLAS builds that lack either symbol.
#include "omnizip_kernels.h"

extern void openblas_set_num_threads(int) __attribute__((weak));
extern int blas_thread_shutdown_(void) __attribute__((weak));

void omnizip_blas_single_threaded(void) {
    if (openblas_set_num_threads) openblas_set_num_threads(1);
    if (blas_thread_shutdown_) (void)blas_thread_shutdown_();
}
