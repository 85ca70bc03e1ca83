"""Checks for competition-rocq: every statement's answer confirmed numerically (brute force, exact
fractions, sympy), and, with --compile, every file compiled by coqc with `Admitted.` appended, one at a time.

    python3 coq_env/data/competition-rocq/checks.py            # numeric checks (needs sympy)
    python3 coq_env/data/competition-rocq/checks.py --compile  # also coqc each statement (about a minute)
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from fractions import Fraction as F
from pathlib import Path

import sympy as sp

HERE = Path(__file__).parent
x, y, a, b, c, d, n = sp.symbols("x y a b c d n", real=True)
Z = range(-60, 61)  # integer window for brute force
Q = [F(p, q) for p in range(-40, 41) for q in range(1, 9)]  # rational window
Pos = [v for v in Q if v > 0]


def zero(expr) -> bool:
    return sp.simplify(sp.expand(expr)) == 0


def floor(v) -> int:
    return math.floor(v)


def fmod(k: int, m: int) -> int:  # Z.modulo: sign of the divisor (Python's % already)
    return k % m


def solve_real(eqs, unknowns):
    return sp.solve(eqs, unknowns, dict=True)


CHECKS = {
    # equations
    "textbook_lin_ages": lambda: solve_real([sp.Eq(a, 3 * b), sp.Eq(a + 12, 2 * (b + 12))], [a, b]) == [{a: 36, b: 12}],
    "textbook_sys_sum_product": lambda: [s[x] for s in solve_real([x + y - 7, x * y - 12], [x, y]) if s[y] < s[x]] == [4],
    "textbook_sys_three_pair_sums": lambda: [s[a] * s[b] * s[c] for s in solve_real([a + b - 10, b + c - 14, a + c - 12], [a, b, c])] == [192],
    "textbook_quad_roots_5_6": lambda: set(sp.solve(x**2 - 5 * x + 6, x)) == {2, 3},
    "textbook_sys_reciprocals": lambda: [s[x] for s in solve_real([1 / x + 1 / y - 5, 1 / x - 1 / y - 1], [x, y])] == [F(1, 3)],
    "textbook_quad_biquadratic": lambda: set(sp.solve(x**4 - 5 * x**2 + 4, x)) == {1, -1, 2, -2},
    "textbook_sys_sum_diff_squares": lambda: [s[x] for s in solve_real([x + y - 5, x**2 - y**2 - 15], [x, y])] == [4],
    # polynomials
    "textbook_poly_sophie_germain": lambda: zero(a**4 + 4 * b**4 - (a**2 + 2 * b**2 + 2 * a * b) * (a**2 + 2 * b**2 - 2 * a * b)),
    "textbook_poly_x4_x2_1": lambda: zero(x**4 + x**2 + 1 - (x**2 + x + 1) * (x**2 - x + 1)),
    "textbook_poly_cubes_sum_zero": lambda: zero((a**3 + b**3 + c**3 - 3 * a * b * c).subs(c, -a - b)),
    "textbook_poly_recip_square": lambda: all(sp.simplify(r**2 + 1 / r**2 - 7) == 0 for r in sp.solve(x + 1 / x - 3, x)),
    "textbook_poly_recip_cube": lambda: all(sp.simplify(r**3 + 1 / r**3 - 18) == 0 for r in sp.solve(x + 1 / x - 3, x)),
    "textbook_poly_vieta_cubic_squares": lambda: zero((a + b + c)**2 - 2 * (a * b + b * c + c * a) - (a**2 + b**2 + c**2))
    and 6**2 - 2 * 11 == 14,
    "textbook_poly_integer_roots_cubic": lambda: {k for k in Z if k**3 - 3 * k**2 - 4 * k + 12 == 0} == {3, 2, -2}
    and set(sp.solve(x**3 - 3 * x**2 - 4 * x + 12, x)) == {3, 2, -2},
    "textbook_poly_remainder_theorem": lambda: sp.rem(x**3 - 2 * x**2 + 3 * x - 4, x - 2) == 2,
    # inequalities (the difference as a sum of squares or a sampled minimum)
    "textbook_ineq_ratio_recip": lambda: zero(a / b + b / a - 2 - (a - b)**2 / (a * b)),
    "textbook_ineq_three_squares": lambda: zero(2 * (a**2 + b**2 + c**2 - a * b - b * c - c * a) - ((a - b)**2 + (b - c)**2 + (c - a)**2)),
    "textbook_ineq_recip_sum_one": lambda: all(1 / p + 1 / (1 - p) >= 4 for p in Pos if p < 1),
    "textbook_ineq_cauchy_two": lambda: zero((a**2 + b**2) * (c**2 + d**2) - (a * c + b * d)**2 - (a * d - b * c)**2),
    "textbook_ineq_fixed_sum_product": lambda: zero(25 - x * (10 - x) - (x - 5)**2),
    "textbook_ineq_three_pair_products": lambda: zero((a + b) * (b + c) * (c + a) - 8 * a * b * c
                                                      - (a * (b - c)**2 + b * (c - a)**2 + c * (a - b)**2)),
    "textbook_ineq_bernoulli": lambda: all((1 + v)**k >= 1 + k * v for v in Q if v >= -1 for k in range(0, 12)),
    "textbook_ineq_sqrt_amgm": lambda: all(math.sqrt(p * q) <= (p + q) / 2 + 1e-12 for p in Pos for q in Pos),
    # induction (closed forms against direct sums)
    "textbook_sum_odd_numbers": lambda: all(sum(2 * k + 1 for k in range(m + 1)) == (m + 1)**2 for m in range(50)),
    "textbook_sum_squares": lambda: all(sum(k * k for k in range(m + 1)) == F(m * (m + 1) * (2 * m + 1), 6) for m in range(50)),
    "textbook_sum_cubes": lambda: all(sum(k**3 for k in range(m + 1)) == F(m * (m + 1), 2)**2 for m in range(50)),
    "textbook_sum_powers_of_two": lambda: all(sum(2**k for k in range(m + 1)) == 2**(m + 1) - 1 for m in range(50)),
    "textbook_sum_telescoping_products": lambda: all(sum(F(1, (k + 1) * (k + 2)) for k in range(m + 1)) == F(m + 1, m + 2) for m in range(50)),
    "textbook_recur_double_plus_one": lambda: all(seq(lambda v: 2 * v + 1, 1, m) == 2**(m + 1) - 1 for m in range(40)),
    "textbook_recur_fibonacci_sum": lambda: all(sum(fib(k) for k in range(m + 1)) == fib(m + 2) - 1 for m in range(40)),
    "textbook_ind_pow2_ge_succ": lambda: all(m + 1 <= 2**m for m in range(200)),
    # divisibility
    "textbook_div_n5_minus_n": lambda: all((k**5 - k) % 30 == 0 for k in Z),
    "textbook_div_n3_minus_n": lambda: all((k**3 - k) % 6 == 0 for k in Z),
    "textbook_gcd_consecutive": lambda: all(math.gcd(k, k + 1) == 1 for k in Z),
    "textbook_gcd_euclid_1071_462": lambda: math.gcd(1071, 462) == 21,
    "textbook_prime_square_minus_one": lambda: all((p * p - 1) % 24 == 0 for p in sp.primerange(5, 5000)),
    "textbook_lcm_one_to_ten": lambda: math.lcm(*range(1, 11)) == 2520
    and min(m for m in range(1, 3000) if all(m % k == 0 for k in range(1, 11))) == 2520,
    "textbook_div_seven_eight_pow": lambda: all((2**(3 * m) - 1) % 7 == 0 for m in range(60)),
    "textbook_div_three_cubes": lambda: all((k**3 + (k + 1)**3 + (k + 2)**3) % 9 == 0 for k in Z),
    # digits and bases
    "textbook_base_find_b": lambda: [v for v in range(2, 200) if 2 * v * v + 5 * v + 3 == 136] == [7],
    "textbook_digits_sum_and_product": lambda: [10 * p + q for p in range(1, 10) for q in range(10)
                                                if 10 * p + q == 4 * (p + q) == 3 * p * q] == [24],
    "textbook_digits_div_nine": lambda: all((100 * p + 10 * q + r) % 9 == 0 for p in range(-20, 20) for q in range(-20, 20)
                                            for r in range(-20, 20) if (p + q + r) % 9 == 0),
    "textbook_digits_reverse_99": lambda: all(((100 * p + 10 * q + r) - (100 * r + 10 * q + p)) % 99 == 0
                                              for p in range(-20, 20) for q in range(-5, 5) for r in range(-20, 20)),
    "textbook_digits_reverse_plus_63": lambda: [10 * p + q for p in range(10) for q in range(10)
                                                if p + q == 9 and 10 * q + p == 10 * p + q + 63] == [18],
    "textbook_digits_palindrome_11": lambda: all((1000 * p + 110 * q + p) % 11 == 0 for p in Z for q in Z),
    "textbook_digits_last_two_pow": lambda: all(pow(7, 4 * m + 3, 100) == 43 for m in range(300)),
    # floor
    "textbook_floor_hermite_three": lambda: all(k // 3 + (k + 1) // 3 + (k + 2) // 3 == k for k in Z),
    "textbook_floor_x_plus_floor": lambda: [v for v in (F(k, 10) for k in range(-500, 500)) if v + floor(v) == F(163, 10)] == [F(83, 10)]
    and all(not (m <= F(163, 10) - m < m + 1) for m in range(-100, 100) if m != 8),  # x = 16.3 - floor x: only floor 8 fits
    "textbook_floor_sqrt_fifty": lambda: math.isqrt(50) == 7,
    "textbook_floor_hermite_two": lambda: all(floor(2 * v) == floor(v) + floor(v + F(1, 2)) for v in Q),
    "textbook_floor_superadditive": lambda: all(floor(p) + floor(q) <= floor(p + q) for p in Q[::7] for q in Q[::5]),
    "textbook_floor_div_nested": lambda: all((k // 4) // 5 == k // 20 for k in range(0, 2000)),
    "textbook_floor_count_multiples": lambda: all(k // 2 + k // 3 - k // 6 <= k for k in range(0, 2000)),
    # remainders (Z.modulo takes the sign of the divisor, as Python's %)
    "textbook_mod_two_pow_hundred": lambda: fmod(2**100, 7) == 2,
    "textbook_mod_crt_three_five": lambda: all(fmod(k, 15) == 8 for k in range(-300, 300) if fmod(k, 3) == 2 and fmod(k, 5) == 3),
    "textbook_mod_squares_four": lambda: {fmod(k * k, 4) for k in Z} == {0, 1},
    "textbook_mod_five_pow_plus_three": lambda: all(fmod(5**m + 3, 4) == 0 for m in range(60)),
    "textbook_mod_not_sum_two_squares": lambda: fmod(2023, 4) == 3
    and not any(p * p + q * q == 2023 for p in range(0, 46) for q in range(0, 46)),
    "textbook_mod_fermat_seven": lambda: all(fmod(k**7 - k, 7) == 0 for k in Z),
    "textbook_mod_cubes_nine": lambda: {fmod(k**3, 9) for k in Z} == {0, 1, 8},
    "textbook_mod_linear_congruence": lambda: [k for k in range(11) if fmod(3 * k, 11) == 5] == [9],
    # functions
    "textbook_fun_linear_two_values": lambda: [s[a] * 10 + s[b] for s in solve_real([a + b - 5, 3 * a + b - 11], [a, b])] == [32],
    "textbook_fun_additive_value": lambda: 5 * 3 == 15,  # f(5) = 5 f(1) by induction on f(k+1) = f(k) + f(1)
    "textbook_fun_reciprocal_substitution": lambda: [s[a] for s in solve_real([a + 2 * b - 6, b + 2 * a - F(3, 2)], [a, b])] == [-1],  # a = f 2, b = f (1/2)
    "textbook_fun_composition_values": lambda: (lambda f, g: f(g(2)) - g(f(2)))(lambda t: 2 * t + 3, lambda t: t * t - 1) == -39,
    "textbook_fun_log_like": lambda: math.isclose(math.log2(8), 3),  # f(8) = f(2) + f(4) = 3 f(2)
    "textbook_fun_odd_periodic": lambda: abs(math.sin(math.pi * 1)) < 1e-12,  # f(1) = f(-1 + 2) = f(-1) = -f(1); e.g. sin(pi x)
    "textbook_fun_quadratic_three_values": lambda: [9 * s[a] + 3 * s[b] + s[c] for s in
                                                    solve_real([c - 1, a + b + c - 4, 4 * a + 2 * b + c - 11], [a, b, c])] == [22],
    # real analysis-lite
    "textbook_abs_equation": lambda: set(sp.solve(sp.Abs(x - 3) - 5, x)) == {8, -2},
    "textbook_sqrt_equation": lambda: sp.solve(sp.sqrt(x + 9) - 5, x) == [16],
    "textbook_sqrt_denest": lambda: sp.simplify((1 + sp.sqrt(2))**2 - (3 + 2 * sp.sqrt(2))) == 0 and 1 + math.sqrt(2) > 0,
    "textbook_rpower_equation": lambda: sp.solve(sp.Eq(2**x, 8), x) == [3],
    "textbook_abs_inequality": lambda: sp.solve_univariate_inequality(sp.Abs(2 * x - 1) < 3, x, relational=False) == sp.Interval.open(-1, 2),
    "textbook_sqrt_rationalize": lambda: sp.simplify(1 / (sp.sqrt(2) + 1) - (sp.sqrt(2) - 1)) == 0,
    "textbook_log_ratio": lambda: sp.simplify(sp.log(8) / sp.log(2)) == 3,
    "textbook_abs_sum_equation": lambda: set(sp.solve(sp.Abs(x) + sp.Abs(x - 2) - 4, x)) == {3, -1},
}


def seq(step, start, m):
    v = start
    for _ in range(m):
        v = step(v)
    return v


def fib(m):
    p, q = 0, 1
    for _ in range(m):
        p, q = q, p + q
    return p


def compile_all() -> list[str]:
    """coqc each file with `Admitted.` appended, one at a time; the names that fail."""
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted((HERE / "all").glob("*.v")):
            target = Path(tmp) / path.name
            target.write_text(path.read_text() + "Admitted.\n")
            run = subprocess.run(["coqc", target.name], cwd=tmp, capture_output=True, text=True, timeout=300)
            if run.returncode:
                failed.append(path.stem)
                print(f"COMPILE FAIL {path.stem}: {run.stdout}{run.stderr}".strip())
    return failed


def main() -> int:
    names = {p.stem for p in (HERE / "all").glob("*.v")}
    sources = json.loads((HERE / "sources.json").read_text())
    bad = sorted(names ^ set(CHECKS)) + sorted(names ^ set(sources))
    for name in sorted(set(CHECKS) & names):
        try:
            ok = CHECKS[name]()
        except Exception as e:  # noqa: BLE001 - a check that crashes is a failed check
            ok, _ = False, print(f"{name}: {e!r}")
        if not ok:
            bad.append(name)
    if "--compile" in sys.argv:
        bad += compile_all()
    print(f"{len(names)} statements; {'all confirmed' if not bad else 'FAILED: ' + ', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
