/*
 * cpu.h — what the CPU can do, detected once at run time.
 *
 * Kernels choose their SIMD path from these flags; `anemone --version` prints them.
 */
#ifndef AN_CPU_H
#define AN_CPU_H

enum {
    AN_CPU_SSE42 = 1 << 0,
    AN_CPU_AVX = 1 << 1,
    AN_CPU_AVX2 = 1 << 2,
    AN_CPU_FMA = 1 << 3,
    AN_CPU_F16C = 1 << 4,
    AN_CPU_AVX512F = 1 << 5,
    AN_CPU_AVX512BW = 1 << 6,
    AN_CPU_AVX512VNNI = 1 << 7,
    AN_CPU_AVXVNNI = 1 << 8,
    AN_CPU_NEON = 1 << 9,
    AN_CPU_DOTPROD = 1 << 10,
};

/* Bit set of AN_CPU_* flags (thread-safe; computed on first call). */
unsigned an_cpu_features(void);

/* The detected features as space-separated names ("avx2 fma f16c"), or "none". */
const char *an_cpu_features_string(void);

/* Logical CPUs online, and physical cores (the default thread count); both >= 1. */
int an_cpu_logical(void);
int an_cpu_physical(void);

#endif
