/* YAML model file (plus --set overrides) -> vl_spec. */
#ifndef VL_CONFIG_READER_H
#define VL_CONFIG_READER_H

#include "internal.h"

/* Returns 0, or -1 with the first error in d (file:line:column). s must be freed either way. */
int vl_spec_read(const char *path, const char *const *overrides, size_t n_overrides, vl_spec *s, vl_diag *d);

#endif
