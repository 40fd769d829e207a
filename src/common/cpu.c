/* cpu.c — see cpu.h. */
#include "cpu.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned detect(void)
{
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) f |= AN_CPU_SSE42;
    if (__builtin_cpu_supports("avx")) f |= AN_CPU_AVX;
    if (__builtin_cpu_supports("avx2")) f |= AN_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) f |= AN_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) f |= AN_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) f |= AN_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vnni")) f |= AN_CPU_AVX512VNNI;
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
    if (__builtin_cpu_supports("avxvnni")) f |= AN_CPU_AVXVNNI;
#endif
    /* F16C has no __builtin_cpu_supports name in every compiler: ask CPUID (leaf 1, ECX bit 29). */
    {
        unsigned a = 1, b = 0, c = 0, d = 0;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
        if ((c >> 29) & 1u) f |= AN_CPU_F16C;
        if (!(f & AN_CPU_AVX)) f &= ~(unsigned)AN_CPU_F16C; /* F16C's 256-bit forms need AVX */
    }
#elif defined(__aarch64__)
    f |= AN_CPU_NEON;
#if defined(__ARM_FEATURE_DOTPROD)
    f |= AN_CPU_DOTPROD;
#endif
#endif
    return f;
}

static unsigned features;
static int features_done;

unsigned an_cpu_features(void)
{
    if (!__atomic_load_n(&features_done, __ATOMIC_ACQUIRE)) {
        unsigned f = detect(); /* idempotent: a race computes the same value twice */
        __atomic_store_n(&features, f, __ATOMIC_RELAXED);
        __atomic_store_n(&features_done, 1, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&features, __ATOMIC_RELAXED);
}

const char *an_cpu_features_string(void)
{
    static char buf[160];
    static const struct { unsigned bit; const char *name; } names[] = {
        {AN_CPU_SSE42, "sse4.2"}, {AN_CPU_AVX, "avx"}, {AN_CPU_AVX2, "avx2"},
        {AN_CPU_FMA, "fma"}, {AN_CPU_F16C, "f16c"}, {AN_CPU_AVX512F, "avx512f"},
        {AN_CPU_AVX512BW, "avx512bw"}, {AN_CPU_AVX512VNNI, "avx512vnni"},
        {AN_CPU_AVXVNNI, "avxvnni"}, {AN_CPU_NEON, "neon"}, {AN_CPU_DOTPROD, "dotprod"},
    };
    unsigned f = an_cpu_features();
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (f & names[i].bit) {
            if (buf[0])
                strcat(buf, " ");
            strcat(buf, names[i].name);
        }
    }
    return buf[0] ? buf : "none";
}

int an_cpu_logical(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int an_cpu_physical(void)
{
    /* Count distinct (package, core) pairs from sysfs; fall back to logical CPUs. */
    int logical = an_cpu_logical();
    int pairs[1024][2];
    int npairs = 0;
    for (int cpu = 0; cpu < logical && cpu < 1024; cpu++) {
        char path[128];
        int core = -1, pkg = -1;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        FILE *fp = fopen(path, "r");
        if (!fp)
            return logical;
        if (fscanf(fp, "%d", &core) != 1)
            core = -1;
        fclose(fp);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
        fp = fopen(path, "r");
        if (fp) {
            if (fscanf(fp, "%d", &pkg) != 1)
                pkg = -1;
            fclose(fp);
        }
        if (core < 0)
            return logical;
        int seen = 0;
        for (int i = 0; i < npairs && !seen; i++)
            seen = pairs[i][0] == pkg && pairs[i][1] == core;
        if (!seen) {
            pairs[npairs][0] = pkg;
            pairs[npairs][1] = core;
            npairs++;
        }
    }
    return npairs > 0 ? npairs : logical;
}
