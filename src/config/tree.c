/* YAML tree: loading through libyaml, alias expansion, merge keys, overrides and emission. */
#define _POSIX_C_SOURCE 200809L
#include "config/tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static vnode *vn_new(vn_type t, vl_mark m) {
    vnode *n = vl__calloc(1, sizeof *n);
    if (n) { n->type = t; n->mark = m; }
    return n;
}

void vn_free(vnode *n) {
    if (!n) return;
    free(n->str);
    for (size_t i = 0; i < n->n; ++i) {
        if (n->keys) free(n->keys[i]);
        vn_free(n->items[i]);
    }
    free(n->keys);
    free(n->key_marks);
    free(n->items);
    free(n->used);
    free(n);
}

static int vn_push(vnode *n, char *key, vl_mark km, vnode *val) {
    size_t k = n->n + 1;
    vnode **items = vl__realloc(n->items, k * sizeof *items);
    if (!items) return -1;
    n->items = items;
    if (n->type == VN_MAP) {
        char **keys = vl__realloc(n->keys, k * sizeof *keys);
        if (keys) n->keys = keys;
        vl_mark *marks = vl__realloc(n->key_marks, k * sizeof *marks);
        if (marks) n->key_marks = marks;
        unsigned char *used = vl__realloc(n->used, k);
        if (used) n->used = used;
        if (!keys || !marks || !used) return -1;
        n->keys[n->n] = key;
        n->key_marks[n->n] = km;
        n->used[n->n] = 0;
    }
    n->items[n->n] = val;
    n->n = k;
    return 0;
}

static vnode *vn_copy(const vnode *s) {
    vnode *c = vn_new(s->type, s->mark);
    if (!c) return NULL;
    c->quoted = s->quoted;
    c->str = vl__strdup(s->str);
    for (size_t i = 0; i < s->n; ++i)
        if (vn_push(c, s->keys ? vl__strdup(s->keys[i]) : NULL, s->key_marks ? s->key_marks[i] : s->mark,
                    vn_copy(s->items[i])) != 0) break;
    return c;
}

static vl_mark to_mark(yaml_mark_t m, const char *origin) {
    vl_mark r = {origin, (int)m.line + 1, (int)m.column + 1};
    return r;
}

static int find_key(const vnode *map, const char *key) {
    for (size_t i = 0; i < map->n; ++i)
        if (strcmp(map->keys[i], key) == 0) return (int)i;
    return -1;
}

/* Nodes a model may expand to: aliases are copied, so a few nested ones could otherwise make a
 * small file take gigabytes (the largest ready model has a few thousand). */
#define VL_YAML_MAX_NODES 1000000

/* Converts node idx of doc; depth guards against alias cycles, *left against alias bombs. */
static vnode *convert(yaml_document_t *doc, int idx, const char *origin, vl_diag *d, int depth, size_t *left) {
    yaml_node_t *y = yaml_document_get_node(doc, idx);
    if (!y) return NULL;
    vl_mark m = to_mark(y->start_mark, origin);
    if (depth > 64) {
        vl__diag_error(d, m, "YAML nesting deeper than 64 levels (a recursive alias?)");
        return NULL;
    }
    if (*left == 0) {
        vl__diag_error(d, m, "the YAML expands to more than %d nodes (an alias repeated within aliases?)",
                       VL_YAML_MAX_NODES);
        return NULL;
    }
    --*left;
    if (y->type == YAML_SCALAR_NODE) {
        vnode *n = vn_new(VN_SCALAR, m);
        if (!n) return NULL;
        n->str = vl__calloc(y->data.scalar.length + 1, 1);
        memcpy(n->str, y->data.scalar.value, y->data.scalar.length);
        n->quoted = y->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    y->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        return n;
    }
    if (y->type == YAML_SEQUENCE_NODE) {
        vnode *n = vn_new(VN_SEQ, m);
        for (yaml_node_item_t *it = y->data.sequence.items.start; n && it < y->data.sequence.items.top; ++it) {
            vnode *c = convert(doc, *it, origin, d, depth + 1, left);
            if (!c || vn_push(n, NULL, m, c) != 0) { vn_free(c); vn_free(n); return NULL; }
        }
        return n;
    }
    vnode *n = vn_new(VN_MAP, m);
    vnode *merge = NULL;
    for (yaml_node_pair_t *p = y->data.mapping.pairs.start; n && p < y->data.mapping.pairs.top; ++p) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        vl_mark km = to_mark(k->start_mark, origin);
        if (k->type != YAML_SCALAR_NODE) {
            vl__diag_error(d, km, "a mapping key must be a plain name");
            vn_free(n);
            return NULL;
        }
        char *key = vl__calloc(k->data.scalar.length + 1, 1);
        memcpy(key, k->data.scalar.value, k->data.scalar.length);
        vnode *v = convert(doc, p->value, origin, d, depth + 1, left);
        if (!v) { free(key); vn_free(n); return NULL; }
        if (strcmp(key, "<<") == 0) { /* merge key: applied after the explicit keys */
            free(key);
            vn_free(merge);
            merge = v;
            continue;
        }
        if (find_key(n, key) >= 0) {
            vl__diag_error(d, km, "key '%s' appears twice in this mapping", key);
            free(key);
            vn_free(v);
            vn_free(n);
            return NULL;
        }
        if (vn_push(n, key, km, v) != 0) { free(key); vn_free(v); vn_free(n); return NULL; }
    }
    if (merge) {
        if (merge->type != VN_MAP) {
            vl__diag_error(d, merge->mark, "'<<' must merge a mapping (e.g. <<: *defaults)");
            vn_free(merge);
            vn_free(n);
            return NULL;
        }
        for (size_t i = 0; i < merge->n; ++i)
            if (find_key(n, merge->keys[i]) < 0)
                vn_push(n, vl__strdup(merge->keys[i]), merge->key_marks[i], vn_copy(merge->items[i]));
        vn_free(merge);
    }
    return n;
}

static vnode *load(yaml_parser_t *p, const char *origin, vl_diag *d) {
    yaml_document_t doc;
    if (!yaml_parser_load(p, &doc)) {
        vl_mark m = {origin, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1};
        vl__diag_error(d, m, "YAML syntax: %s%s%s", p->problem ? p->problem : "unreadable",
                       p->context ? " " : "", p->context ? p->context : "");
        return NULL;
    }
    vnode *root = NULL;
    if (!yaml_document_get_root_node(&doc)) {
        vl_mark m = {origin, 0, 0};
        vl__diag_error(d, m, "the file is empty; expected a model mapping (name:, dt:, populations:, ...)");
    } else {
        size_t left = VL_YAML_MAX_NODES;
        root = convert(&doc, 1, origin, d, 0, &left);
    }
    yaml_document_delete(&doc);
    return root;
}

vnode *vn_load_file(const char *path, const char *origin, vl_diag *d) {
    vl_mark m = {origin, 0, 0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        vl__diag_error(d, m, "cannot open the model file: %s", strerror(errno));
        return NULL;
    }
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    vnode *r = load(&p, origin, d);
    yaml_parser_delete(&p);
    fclose(f);
    return r;
}

vnode *vn_load_string(const char *text, const char *origin, vl_diag *d) {
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    vnode *r = load(&p, origin, d);
    yaml_parser_delete(&p);
    return r;
}

vnode *vn_get(vnode *map, const char *key) {
    if (!map || map->type != VN_MAP) return NULL;
    int i = find_key(map, key);
    if (i < 0) return NULL;
    map->used[i] = 1;
    return map->items[i];
}

vl_mark vn_key_mark(const vnode *map, const char *key) {
    int i = find_key(map, key);
    return i < 0 ? map->mark : map->key_marks[i];
}

int vn_check_keys(const vnode *map, const char *const *allowed, const char *what, vl_diag *d) {
    for (size_t i = 0; i < map->n; ++i) {
        if (map->used[i]) continue;
        int known = 0;
        for (size_t k = 0; allowed[k]; ++k) known |= strcmp(allowed[k], map->keys[i]) == 0;
        if (known) continue;
        char list[600] = "";
        for (size_t k = 0; allowed[k]; ++k) {
            if (strlen(list) + strlen(allowed[k]) + 3 >= sizeof list) break;
            if (k) strcat(list, ", ");
            strcat(list, allowed[k]);
        }
        const char *near = vl__closest(map->keys[i], allowed);
        if (near)
            vl__diag_error(d, map->key_marks[i], "unknown key '%s' in %s; did you mean '%s'? (allowed: %s)",
                           map->keys[i], what, near, list);
        else
            vl__diag_error(d, map->key_marks[i], "unknown key '%s' in %s (allowed: %s)", map->keys[i], what, list);
        return -1;
    }
    return 0;
}

static void vn_set_marks(vnode *n, vl_mark m) {
    n->mark = m;
    for (size_t i = 0; i < n->n; ++i) {
        if (n->key_marks) n->key_marks[i] = m;
        vn_set_marks(n->items[i], m);
    }
}

int vn_apply_override(vnode *root, const char *assignment, const char *origin, vl_diag *d) {
    vl_mark m = {origin, 0, 0};
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        vl__diag_error(d, m, "expected dotted.path=VALUE, e.g. --set projections.0.weight=\"5 nS\"");
        return -1;
    }
    /* An empty part (".=1", "a..b=1", "a.=1") would be skipped by strtok_r and override another key. */
    size_t plen = (size_t)(eq - assignment);
    int empty_part = assignment[0] == '.' || assignment[plen - 1] == '.';
    for (size_t i = 1; i < plen && !empty_part; ++i) empty_part = assignment[i] == '.' && assignment[i - 1] == '.';
    if (empty_part) {
        vl__diag_error(d, m, "the path '%.*s' has an empty part; expected dotted.path=VALUE with a key or index "
                       "between each pair of dots, e.g. --set populations.exc.size=800", (int)plen, assignment);
        return -1;
    }
    vnode *value = vn_load_string(eq + 1, origin, d);
    if (!value) {
        if (!d->has_err) vl__diag_error(d, m, "empty value; expected dotted.path=VALUE");
        return -1;
    }
    vn_set_marks(value, m); /* a value parsed from an override has no line in the model file */
    char *path = vl__calloc((size_t)(eq - assignment) + 1, 1);
    memcpy(path, assignment, (size_t)(eq - assignment));
    vnode *cur = root;
    char *save = NULL, *seg = strtok_r(path, ".", &save);
    int rc = -1;
    while (seg) {
        char *next = strtok_r(NULL, ".", &save);
        if (cur->type == VN_MAP) {
            int i = find_key(cur, seg);
            if (!next) {
                if (i >= 0) { vn_free(cur->items[i]); cur->items[i] = value; }
                else vn_push(cur, vl__strdup(seg), m, value);
                value = NULL;
                rc = 0;
                break;
            }
            if (i < 0) {
                vl__diag_error(d, m, "'%s' does not exist in the model, so it cannot be overridden", seg);
                break;
            }
            cur = cur->items[i];
        } else if (cur->type == VN_SEQ) {
            char *end;
            long k = strtol(seg, &end, 10);
            long found = -1;
            if (*end == '\0' && k >= 0 && (size_t)k < cur->n) found = k;
            for (size_t j = 0; found < 0 && j < cur->n; ++j) {
                vnode *nm = cur->items[j]->type == VN_MAP ? vn_get(cur->items[j], "name") : NULL;
                if (nm && nm->type == VN_SCALAR && strcmp(nm->str, seg) == 0) found = (long)j;
            }
            if (found < 0) {
                vl__diag_error(d, m, "no item '%s' in this list (give an index from 0 to %zu or an item's name)",
                               seg, cur->n ? cur->n - 1 : 0);
                break;
            }
            if (!next) {
                vn_free(cur->items[found]);
                cur->items[found] = value;
                value = NULL;
                rc = 0;
                break;
            }
            cur = cur->items[found];
        } else {
            vl__diag_error(d, m, "'%s' is below a plain value, so it cannot be overridden", seg);
            break;
        }
        seg = next;
    }
    free(path);
    vn_free(value);
    return rc;
}

/* ---- emission ---- */
typedef struct { char *s; size_t n, cap; } sbuf;

static void sb_put(sbuf *b, const char *s) {
    size_t l = strlen(s);
    if (b->n + l + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->n + l + 1) cap *= 2;
        char *t = realloc(b->s, cap);
        if (!t) return;
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, l + 1);
    b->n += l;
}

static int needs_quotes(const char *s, int quoted) {
    if (quoted || !*s) return 1;
    if (strchr(":#{}[],&*!|>'\"%@`\n", s[0]) || s[0] == ' ' || s[0] == '-') {
        /* a leading '-' is fine for numbers such as -60 mV */
        if (s[0] == '-' && s[1] && (s[1] == '.' || (s[1] >= '0' && s[1] <= '9'))) return strpbrk(s, ":#{}[],") != NULL;
        return 1;
    }
    return strpbrk(s, ":#{}[],\n\"") != NULL;
}

static void put_scalar(sbuf *b, const vnode *n) {
    if (!needs_quotes(n->str, n->quoted)) { sb_put(b, n->str); return; }
    sb_put(b, "\"");
    char one[2] = {0, 0};
    for (const char *p = n->str; *p; ++p) {
        if (*p == '"' || *p == '\\') sb_put(b, "\\");
        if (*p == '\n') { sb_put(b, "\\n"); continue; }
        one[0] = *p;
        sb_put(b, one);
    }
    sb_put(b, "\"");
}

static void put_flow(sbuf *b, const vnode *n) {
    if (n->type == VN_SCALAR) { put_scalar(b, n); return; }
    sb_put(b, n->type == VN_SEQ ? "[" : "{");
    for (size_t i = 0; i < n->n; ++i) {
        if (i) sb_put(b, ", ");
        if (n->type == VN_MAP) {
            vnode k = {.type = VN_SCALAR, .str = n->keys[i]};
            put_scalar(b, &k);
            sb_put(b, ": ");
        }
        put_flow(b, n->items[i]);
    }
    sb_put(b, n->type == VN_SEQ ? "]" : "}");
}

static int is_small(const vnode *n) {
    if (n->type == VN_SCALAR) return 1;
    if (n->n > 12) return 0;
    for (size_t i = 0; i < n->n; ++i)
        if (n->items[i]->type != VN_SCALAR && !(n->items[i]->n <= 4 && is_small(n->items[i]))) return 0;
    return 1;
}

static void put_block(sbuf *b, const vnode *n, int indent) {
    char pad[128];
    int w = indent < 120 ? indent : 120;
    memset(pad, ' ', (size_t)w);
    pad[w] = 0;
    for (size_t i = 0; i < n->n; ++i) {
        const vnode *c = n->items[i];
        sb_put(b, pad);
        if (n->type == VN_MAP) {
            vnode k = {.type = VN_SCALAR, .str = n->keys[i]};
            put_scalar(b, &k);
            sb_put(b, ":");
        } else {
            sb_put(b, "-");
        }
        if (is_small(c) || c->n == 0) {
            sb_put(b, " ");
            put_flow(b, c);
            sb_put(b, "\n");
        } else {
            sb_put(b, "\n");
            put_block(b, c, indent + 2);
        }
    }
}

char *vn_to_yaml(const vnode *root) {
    sbuf b = {0};
    if (root->type == VN_SCALAR) put_flow(&b, root);
    else put_block(&b, root, 0);
    if (!b.s) return vl__strdup("");
    return b.s;
}
