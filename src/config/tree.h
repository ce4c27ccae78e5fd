/* A small YAML tree with positions, built from libyaml's document loader. Aliases are expanded
 * (copied) and "<<" merge keys are applied, so later stages see plain maps, sequences and
 * scalars. The tree can be edited by --set overrides and written back as YAML text. */
#ifndef VL_CONFIG_TREE_H
#define VL_CONFIG_TREE_H

#include <stddef.h>
#include "internal.h"

typedef enum { VN_SCALAR, VN_SEQ, VN_MAP } vn_type;

typedef struct vnode {
    vn_type type;
    vl_mark mark;
    char *str;          /* scalar text */
    int quoted;         /* scalar was quoted: never a number or a bool */
    size_t n;
    char **keys;        /* map keys */
    vl_mark *key_marks;
    struct vnode **items; /* sequence items or map values */
    unsigned char *used;  /* map: key consumed by the reader */
} vnode;

/* Parses a file (origin = its path, kept by pointer) or a string. */
vnode *vn_load_file(const char *path, const char *origin, vl_diag *d);
vnode *vn_load_string(const char *text, const char *origin, vl_diag *d);
void vn_free(vnode *n);

vnode *vn_get(vnode *map, const char *key);  /* marks the key used */
vl_mark vn_key_mark(const vnode *map, const char *key);
/* Reports the first key of map not marked used, with a "did you mean" from allowed. */
int vn_check_keys(const vnode *map, const char *const *allowed, const char *what, vl_diag *d);

/* Applies "a.b.0.c=VALUE" (a sequence step may be an index or the item's name). */
int vn_apply_override(vnode *root, const char *assignment, const char *origin, vl_diag *d);

/* Appends the tree as block YAML to a growing buffer; returns a malloc'ed string. */
char *vn_to_yaml(const vnode *root);

#endif
