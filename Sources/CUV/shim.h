#ifndef OMNIZIP_CUV_SHIM_H
#define OMNIZIP_CUV_SHIM_H
#include <uv.h>
#endif
