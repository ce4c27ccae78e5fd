/* Backend selection and build information. A failed device probe counts as "no device" (as
 * ggml does): under --backend auto the run falls back to the CPU with a one-line notice, under
 * --backend cuda it is an error. */
#include <stdio.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "sim/sim.h"

void vl_build_info_get(vl_build_info *info) {
    memset(info, 0, sizeof *info);
    info->version = VL_VERSION;
#ifdef VOLLEY_GIT_REV
    info->git_revision = VOLLEY_GIT_REV;
#else
    info->git_revision = "unknown";
#endif
#ifdef VOLLEY_BUILD_TYPE
    info->build_type = VOLLEY_BUILD_TYPE;
#else
    info->build_type = "unknown";
#endif
#ifdef VOLLEY_C_FLAGS
    info->c_flags = VOLLEY_C_FLAGS;
#else
    info->c_flags = "";
#endif
#ifdef VOLLEY_HAVE_CUDA
    info->cuda_compiled = 1;
#endif
#ifdef _OPENMP
    info->openmp = 1;
    info->omp_max_threads = omp_get_max_threads();
#else
    info->omp_max_threads = 1;
#endif
#ifdef VOLLEY_HAVE_AVX2
    info->avx2_compiled = 1;
#endif
    info->avx2_used = vl__cpu_avx2();
}

int vl_devices_describe(char *buf, size_t len) {
    if (len) buf[0] = 0;
#ifdef VOLLEY_HAVE_CUDA
    int n = vl_cuda_device_count();
    size_t o = 0;
    for (int d = 0; d < n && o < len; ++d) {
        char line[256];
        vl_cuda_describe(d, line, sizeof line);
        int k = snprintf(buf + o, len - o, "cuda:%d %s\n", d, line);
        if (k > 0) o += (size_t)k;
    }
    return n;
#else
    (void)buf;
    (void)len;
    return 0;
#endif
}

vl_status vl_backend_select(vl_sim *s) {
    vl_backend_kind want = s->opt.backend;
    if (want == VL_BACKEND_CPU) {
        s->be = vl_backend_cpu();
        return VL_OK;
    }
#ifdef VOLLEY_HAVE_CUDA
    if (vl_cuda_device_count() > 0) {
        s->be = &vl_backend_cuda;
        return VL_OK;
    }
    if (want == VL_BACKEND_CUDA) {
        vl__diag_error(&s->diag, (vl_mark){0}, "--backend cuda: no usable CUDA device (no driver or no GPU); "
                       "use --backend cpu or auto");
        return VL_ERR_DEVICE;
    }
    if (s->opt.log) s->opt.log(VL_LOG_INFO, "no usable CUDA device: running on the CPU backend", s->opt.log_user);
#else
    if (want == VL_BACKEND_CUDA) {
        vl__diag_error(&s->diag, (vl_mark){0}, "--backend cuda: this build has no CUDA backend (nvcc was not found "
                       "when it was configured); use --backend cpu or auto");
        return VL_ERR_UNSUPPORTED;
    }
#endif
    s->be = vl_backend_cpu();
    return VL_OK;
}

const vl_backend_i *vl_backend_cpu(void) {
#ifdef VOLLEY_HAVE_AVX2
    if (vl__cpu_avx2()) return &vl_backend_cpu_avx2;
#endif
    return &vl_backend_cpu_base;
}
