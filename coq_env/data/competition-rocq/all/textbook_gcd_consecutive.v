Require Import ZArith.
Require Import Znumtheory.
Open Scope Z_scope.

Theorem textbook_gcd_consecutive :
  forall n : Z,
  Z.gcd n (n + 1) = 1.
Proof.
