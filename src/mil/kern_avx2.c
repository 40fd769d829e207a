#include "mil/kern_internal.h"
#if defined(__x86_64__)
int kn_matmul_avx2(const kn_weight *w, const kn_act *a, const float *bias, void *y, int y_f16,
                   int64_t ym, int64_t yn, int64_t n0, int64_t n1)
{ (void)w,(void)a,(void)bias,(void)y,(void)y_f16,(void)ym,(void)yn,(void)n0,(void)n1; return -1; }
#endif
