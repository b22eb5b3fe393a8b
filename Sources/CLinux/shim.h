#ifndef OMNIZIP_CLINUX_SHIM_H
#define OMNIZIP_CLINUX_SHIM_H
/* Linux file-system facts Swift's Glibc module does not import (it has no <sys/vfs.h>). */
#include <sys/vfs.h>

/* Whether fd is a file on hugetlbfs (a memfd made with MFD_HUGETLB): 1, 0, or -1 with errno. */
static inline int omnizip_is_hugetlbfs(int fd) {
    struct statfs fs;
    if (fstatfs(fd, &fs) != 0) return -1;
    return fs.f_type == 0x958458f6; /* HUGETLBFS_MAGIC, <linux/magic.h> */
}
#endif
