Require Import ZArith.
Require Import Znumtheory.
Open Scope Z_scope.

Theorem textbook_lcm_one_to_ten :
  forall n : Z,
  0 < n ->
  (forall k, 1 <= k <= 10 -> (k | n)) ->
  2520 <= n.
Proof.
