Require Import ZArith.
Require Import Znumtheory.
Open Scope Z_scope.

Theorem textbook_gcd_euclid_1071_462 :
  Z.gcd 1071 462 = 21.
Proof.
