/* Units table and quantity parser. */
#include "config/units.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *sym; vl_dim dim; double scale; } units[] = {
    {"s", VL_DIM_TIME, 1e3},     {"ms", VL_DIM_TIME, 1.0},      {"us", VL_DIM_TIME, 1e-3},
    {"min", VL_DIM_TIME, 6e4},
    {"V", VL_DIM_VOLTAGE, 1e3},  {"mV", VL_DIM_VOLTAGE, 1.0},   {"uV", VL_DIM_VOLTAGE, 1e-3},
    {"S", VL_DIM_CONDUCTANCE, 1e9}, {"mS", VL_DIM_CONDUCTANCE, 1e6}, {"uS", VL_DIM_CONDUCTANCE, 1e3},
    {"nS", VL_DIM_CONDUCTANCE, 1.0}, {"pS", VL_DIM_CONDUCTANCE, 1e-3},
    {"F", VL_DIM_CAPACITANCE, 1e12}, {"uF", VL_DIM_CAPACITANCE, 1e6}, {"nF", VL_DIM_CAPACITANCE, 1e3},
    {"pF", VL_DIM_CAPACITANCE, 1.0},
    {"A", VL_DIM_CURRENT, 1e12}, {"mA", VL_DIM_CURRENT, 1e9}, {"uA", VL_DIM_CURRENT, 1e6},
    {"nA", VL_DIM_CURRENT, 1e3}, {"pA", VL_DIM_CURRENT, 1.0},
    {"Hz", VL_DIM_RATE, 1.0}, {"kHz", VL_DIM_RATE, 1e3},
    {"M", VL_DIM_CONCENTRATION, 1e3}, {"mM", VL_DIM_CONCENTRATION, 1.0}, {"uM", VL_DIM_CONCENTRATION, 1e-3},
};

int vl_quantity_parse(const char *s, double *value, vl_dim *dim) {
    while (isspace((unsigned char)*s)) ++s;
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v)) return -1;
    while (isspace((unsigned char)*end)) ++end;
    char unit[16];
    size_t n = 0;
    while (*end && !isspace((unsigned char)*end) && n + 1 < sizeof unit) unit[n++] = *end++;
    unit[n] = 0;
    while (isspace((unsigned char)*end)) ++end;
    if (*end) { *dim = VL_DIM_COUNT_; return -2; }
    if (n == 0) { *value = v; *dim = VL_DIM_NONE; return 0; }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; ++i)
        if (strcmp(units[i].sym, unit) == 0) {
            *value = v * units[i].scale;
            *dim = units[i].dim;
            return isfinite(*value) ? 0 : -3; /* "1e308 S" is beyond double in nS */
        }
    *dim = VL_DIM_COUNT_;
    return -2;
}

const char *vl_dim_name(vl_dim d) {
    static const char *names[] = {"a plain number", "a time", "a voltage", "a conductance",
                                  "a capacitance", "a current", "a rate", "a concentration",
                                  "an unknown unit"};
    return names[d <= VL_DIM_COUNT_ ? d : VL_DIM_COUNT_];
}

const char *vl_dim_example(vl_dim d) {
    static const char *ex[] = {"0.02", "5 ms", "-60 mV", "6 nS", "200 pF", "100 pA", "15 Hz", "1 mM", ""};
    return ex[d <= VL_DIM_COUNT_ ? d : VL_DIM_COUNT_];
}

const char *vl_dim_unit(vl_dim d) {
    static const char *u[] = {"", "ms", "mV", "nS", "pF", "pA", "Hz", "mM", ""};
    return u[d <= VL_DIM_COUNT_ ? d : VL_DIM_COUNT_];
}
