// OpenBLAS's CBLAS interface (Debian: libopenblas-dev puts cblas.h on the default path).
#ifndef OMNIZIP_CBLAS_SHIM_H
#define OMNIZIP_CBLAS_SHIM_H
#include <cblas.h>
#endif
