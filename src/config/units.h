/* Physical quantities in model files: "20 ms", "-70 mV", "0.6 nS", "15 Hz", "200 pF", "1 mM".
 * Values are converted to the internal units ms, mV, nS, pF, pA, Hz, mM. */
#ifndef VL_CONFIG_UNITS_H
#define VL_CONFIG_UNITS_H

typedef enum {
    VL_DIM_NONE, VL_DIM_TIME, VL_DIM_VOLTAGE, VL_DIM_CONDUCTANCE, VL_DIM_CAPACITANCE,
    VL_DIM_CURRENT, VL_DIM_RATE, VL_DIM_CONCENTRATION, VL_DIM_COUNT_
} vl_dim;

/* Returns 0 and sets value (internal unit) and dim; -1 when s is not a number, -2 when the
 * number is followed by an unknown unit (*dim is then VL_DIM_COUNT_), -3 when the value in the
 * internal unit is beyond double's range. */
int vl_quantity_parse(const char *s, double *value, vl_dim *dim);

/* The longest time a model may state (1e9 ms, 11.6 days) and the shortest dt (1 ns): every time
 * divided by dt then stays below 1e15 steps, exact in a double and far inside 64 bits. */
#define VL_TIME_MAX_MS 1e9
#define VL_DT_MIN_MS 1e-6
const char *vl_dim_name(vl_dim d);
const char *vl_dim_example(vl_dim d);
const char *vl_dim_unit(vl_dim d); /* the internal unit's symbol */

#endif
