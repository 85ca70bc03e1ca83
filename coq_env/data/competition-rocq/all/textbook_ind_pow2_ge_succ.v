Require Import Arith.
Require Import Nat.

Theorem textbook_ind_pow2_ge_succ :
  forall n : nat,
  n + 1 <= 2 ^ n.
Proof.
