// Nothing to import: this target only supplies link-time replacements (see glibc_compat.c).
#ifndef CUAEF_GLIBC_COMPAT_H
#define CUAEF_GLIBC_COMPAT_H
#endif
