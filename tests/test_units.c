/* Quantity parsing (src/config/units.h): every unit converts to the internal ms, mV, nS, pF, pA,
 * Hz, mM by its SI factor, dimensions are reported, and junk is refused with the documented codes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/units.h"

static void expect_q(const char *s, double want, vl_dim want_dim) {
    double v = NAN;
    vl_dim d = VL_DIM_COUNT_;
    int rc = vl_quantity_parse(s, &v, &d);
    if (rc != 0 || d != want_dim || fabs(v - want) > 1e-12 * fmax(1.0, fabs(want)))
        fail_msg("'%s': rc %d, value %.17g dim %d; expected %.17g dim %d", s, rc, v, (int)d, want, (int)want_dim);
}

static void expect_rc(const char *s, int want_rc) {
    double v = 0;
    vl_dim d = VL_DIM_NONE;
    int rc = vl_quantity_parse(s, &v, &d);
    if (rc != want_rc) fail_msg("'%s': rc %d, expected %d", s, rc, want_rc);
    if (want_rc == -2 && d != VL_DIM_COUNT_) fail_msg("'%s': unknown unit must set dim to VL_DIM_COUNT_", s);
}

static void test_examples_from_docs(void **st) {
    (void)st;
    expect_q("6 nS", 6.0, VL_DIM_CONDUCTANCE);
    expect_q("1 s", 1000.0, VL_DIM_TIME);
    expect_q("-60 mV", -60.0, VL_DIM_VOLTAGE);
    expect_q("2 kHz", 2000.0, VL_DIM_RATE);
    expect_q("200 pF", 200.0, VL_DIM_CAPACITANCE);
    expect_q("15 Hz", 15.0, VL_DIM_RATE);
    expect_q("0.6 nS", 0.6, VL_DIM_CONDUCTANCE);
    expect_q("1 mM", 1.0, VL_DIM_CONCENTRATION);
}

/* Each prefix is the SI factor relative to the internal unit. */
static void test_si_prefixes(void **st) {
    (void)st;
    expect_q("20 ms", 20.0, VL_DIM_TIME);
    expect_q("100 us", 0.1, VL_DIM_TIME);
    expect_q("2 min", 120000.0, VL_DIM_TIME);
    expect_q("0.07 V", 70.0, VL_DIM_VOLTAGE);
    expect_q("500 uV", 0.5, VL_DIM_VOLTAGE);
    expect_q("1 S", 1e9, VL_DIM_CONDUCTANCE);
    expect_q("1 mS", 1e6, VL_DIM_CONDUCTANCE);
    expect_q("0.01 uS", 10.0, VL_DIM_CONDUCTANCE);
    expect_q("250 pS", 0.25, VL_DIM_CONDUCTANCE);
    expect_q("1e-10 F", 100.0, VL_DIM_CAPACITANCE);
    expect_q("0.001 uF", 1000.0, VL_DIM_CAPACITANCE);
    expect_q("0.25 nF", 250.0, VL_DIM_CAPACITANCE);
    expect_q("1e-9 A", 1000.0, VL_DIM_CURRENT);
    expect_q("1e-6 mA", 1000.0, VL_DIM_CURRENT);
    expect_q("0.002 uA", 2000.0, VL_DIM_CURRENT);
    expect_q("0.5 nA", 500.0, VL_DIM_CURRENT);
    expect_q("-90 pA", -90.0, VL_DIM_CURRENT);
    expect_q("0.001 M", 1.0, VL_DIM_CONCENTRATION);
    expect_q("500 uM", 0.5, VL_DIM_CONCENTRATION);
}

/* The internal units are coherent: nS * mV = pA and pF * mV / ms = pA, so a value converted
 * through SI and back lands on the same number. */
static void test_coherent_internal_units(void **st) {
    (void)st;
    double g, v, c, t, i;
    vl_dim d;
    assert_int_equal(vl_quantity_parse("1e-8 S", &g, &d), 0);   /* 10 nS */
    assert_int_equal(vl_quantity_parse("0.02 V", &v, &d), 0);   /* 20 mV */
    assert_int_equal(vl_quantity_parse("2e-10 F", &c, &d), 0);  /* 200 pF */
    assert_int_equal(vl_quantity_parse("0.02 s", &t, &d), 0);   /* 20 ms */
    assert_int_equal(vl_quantity_parse("2e-10 A", &i, &d), 0);  /* 200 pA = 10 nS * 20 mV */
    assert_true(fabs(g * v - i) < 1e-9);
    /* tau = C / g: 200 pF / 10 nS = 20 ms */
    assert_true(fabs(c / g - t) < 1e-9);
    /* C dv/dt: 200 pF * 20 mV / 20 ms = 200 pA */
    assert_true(fabs(c * v / t - i) < 1e-9);
}

static void test_spacing_and_forms(void **st) {
    (void)st;
    expect_q("  5   ms  ", 5.0, VL_DIM_TIME);
    expect_q("5ms", 5.0, VL_DIM_TIME);
    expect_q("-1.5e1 mV", -15.0, VL_DIM_VOLTAGE);
    expect_q("+3 nS", 3.0, VL_DIM_CONDUCTANCE);
    expect_q(".5 s", 500.0, VL_DIM_TIME);
    expect_q("0.02", 0.02, VL_DIM_NONE);
    expect_q("100", 100.0, VL_DIM_NONE);
    expect_q("-7", -7.0, VL_DIM_NONE);
}

static void test_not_a_number(void **st) {
    (void)st;
    expect_rc("", -1);
    expect_rc("   ", -1);
    expect_rc("ms", -1);
    expect_rc("abc", -1);
    expect_rc("mV 5", -1);
    expect_rc("nan", -1);
    expect_rc("inf ms", -1);
    expect_rc("1e999 ms", -1);
}

static void test_unknown_units(void **st) {
    (void)st;
    expect_rc("5 furlongs", -2);
    expect_rc("5 MS", -2);    /* units are case sensitive: MS would be megasiemens */
    expect_rc("5 msec", -2);
    expect_rc("5 mv", -2);
    expect_rc("5 ms extra", -2);
    expect_rc("5 ms ms", -2);
    expect_rc("5 ohm", -2);
    expect_rc("5,0 ms", -2);
}

/* vl_dim_example must be a valid value of its own dimension (error messages show it). */
static void test_examples_parse_to_their_dimension(void **st) {
    (void)st;
    for (int d = VL_DIM_NONE; d < VL_DIM_COUNT_; ++d) {
        double v;
        vl_dim got;
        const char *ex = vl_dim_example((vl_dim)d);
        if (vl_quantity_parse(ex, &v, &got) != 0 || got != (vl_dim)d)
            fail_msg("example '%s' of %s does not parse to that dimension", ex, vl_dim_name((vl_dim)d));
        /* The internal unit symbol parses with factor 1 (except the plain number). */
        if (d != VL_DIM_NONE) {
            char buf[32];
            snprintf(buf, sizeof buf, "3 %s", vl_dim_unit((vl_dim)d));
            expect_q(buf, 3.0, (vl_dim)d);
        }
    }
    assert_string_equal(vl_dim_name(VL_DIM_VOLTAGE), "a voltage");
    assert_string_equal(vl_dim_name(VL_DIM_CONDUCTANCE), "a conductance");
    assert_string_equal(vl_dim_name(VL_DIM_TIME), "a time");
    assert_string_equal(vl_dim_unit(VL_DIM_CURRENT), "pA");
    /* Out of range asks for the sentinel, never reads past the tables. */
    assert_non_null(vl_dim_name(VL_DIM_COUNT_));
    assert_non_null(vl_dim_name((vl_dim)99));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_from_docs),
        cmocka_unit_test(test_si_prefixes),
        cmocka_unit_test(test_coherent_internal_units),
        cmocka_unit_test(test_spacing_and_forms),
        cmocka_unit_test(test_not_a_number),
        cmocka_unit_test(test_unknown_units),
        cmocka_unit_test(test_examples_parse_to_their_dimension),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
