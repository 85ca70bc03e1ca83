"""Remainders and divisibility as automation for Rocq: three sentences that turn `mod`, `/` and `|` into equations
over the integers and close the goal with lia or nia, or fail (the third after induction on an exponent).

Why: lia and nia do not reason about `Z.modulo`, `Z.div` or `Nat.modulo` by themselves (`n mod 3 = 2 -> n mod 5 = 3
-> n mod 15 = 8` is beyond them), and zify in Coq 8.16 leaves `Z.of_nat (n mod 7)` as an atom. By hand the proofs
are routine: write each `a mod k` as `a = k * q + r` with `0 <= r < k` (Coq's `Z.div_mod_to_equations`), then
linear arithmetic; and for a remainder of a polynomial (`n ^ 2 mod 4`, `(6 | n ^ 3 - n)`), split on the remainder of
the variable first: `n = k * q + r` and each `r` in `0 .. k - 1`.

The tactics name every lemma and tactic by its full path (`Coq.ZArith.BinInt.Z.div_mod`), and write no numeral:
the automation import (Psatz) loads ZArith without importing it, so a qualified name resolves under any header,
a short one only where the header imported ZArith, and `0%Z` only where Z's scope is open.
"""
from __future__ import annotations

_Z = "Coq.ZArith.BinInt.Z"
_ZIFY = "Coq.micromega.Zify.zify"
_EQUATIONS = "Coq.omega.PreOmega.Z.div_mod_to_equations"
# Naturals to integers: zify, then nat's `mod` and `/` (which 8.16's zify leaves inside `Z.of_nat`) as Z's, zify
# again for what those rewrites expose; a divisibility `(k | a)` as `a mod k = 0` where lia shows `k <> 0`.
_TO_Z = (f"{_ZIFY}; rewrite ?Coq.ZArith.Znat.Nat2Z.inj_mod, ?Coq.ZArith.Znat.Nat2Z.inj_div in *; {_ZIFY}; "
         f"rewrite <- ?{_Z}.mod_divide in * by lia")
# Each `Z.of_nat n` left by zify as an integer variable of its own (zify has stated it is >= 0), so the split
# below can take a natural number's remainder too.
_NAT_ATOMS = (f"repeat match goal with |- context[{_Z}.of_nat ?n] => let m := fresh \"m\" in "
              f"set (m := {_Z}.of_nat n) in *; clearbody m end")
# Every remainder and quotient as its equations, then linear arithmetic, or nonlinear for products of unknowns.
DIV_MOD_EQUATIONS = f"intros; {_TO_Z}; progress {_EQUATIONS}; solve [lia | nia]"
# For a modulus k in the goal and an integer n of the context (each tried in turn): n = k * q + r, one case per
# value of r (the last one from the bounds), each closed as above. The cases are tried in order 0, 1, ...: `Z.succ`
# builds the next one, as no numeral can be written.
RESIDUE_CASES = (
    f"intros; {_TO_Z}; {_NAT_ATOMS}; "
    f"match goal with |- context[{_Z}.modulo _ ?k] => match goal with n : Coq.Numbers.BinNums.Z |- _ => "
    f"let r := fresh \"r\" in let q := fresh \"q\" in "
    f"pose proof ({_Z}.div_mod n k ltac:(lia)); pose proof ({_Z}.mod_pos_bound n k ltac:(lia)); "
    f"set (r := {_Z}.modulo n k) in *; set (q := {_Z}.div n k) in *; clearbody r q; subst n; "
    f"let rec cases c := first [assert (r = c) by lia; subst r | "
    f"destruct ({_Z}.eq_dec r c); [subst r | cases ({_Z}.succ c)]] in cases Coq.Numbers.BinNums.Z0; "
    f"{_EQUATIONS}; nia end end"
)
# A power whose exponent is a variable k >= 0 (`7 ^ (4 * n + 3) mod 100`, `(7 | 2 ^ (3 * n) - 1)`): the exponent
# split into powers of k alone (`Z.pow_add_r`, `Z.pow_mul_r`), then induction on k as a natural number; the step
# multiplies by the base once (`Z.pow_succ_r`), and the remainder equations close both cases by linear arithmetic,
# the power of k standing as one unknown.
POWER_INDUCTION = (
    f"intros; {_TO_Z}; {_NAT_ATOMS}; rewrite ?{_Z}.pow_add_r, ?{_Z}.pow_mul_r by lia; "
    f"match goal with H : {_Z}.le Coq.Numbers.BinNums.Z0 ?k |- context[{_Z}.pow _ ?k] => is_var k; "
    f"rewrite <- (Coq.ZArith.Znat.Z2Nat.id k H); generalize ({_Z}.to_nat k); "
    f"let j := fresh \"j\" in let IH := fresh \"IH\" in intro j; induction j as [|j IH]; "
    f"[simpl; try reflexivity; {_EQUATIONS}; solve [lia | nia] | "
    f"rewrite Coq.ZArith.Znat.Nat2Z.inj_succ, {_Z}.pow_succ_r by lia; {_EQUATIONS}; solve [lia | nia]] end"
)
RESIDUE_TACTICS = [DIV_MOD_EQUATIONS, RESIDUE_CASES, POWER_INDUCTION]
# Seconds one run may take: where they prove, well under one; a large modulus (one case each) or nia on a high
# power fails slowly. As for induction, the backend does not run one again on a theorem once it ran out of time.
TIMEOUT = 3.0
