Require Import Reals.
Require Import ZArith.
Open Scope R_scope.

Theorem textbook_floor_hermite_two :
  forall x : R,
  Int_part (2 * x) = (Int_part x + Int_part (x + 1 / 2))%Z.
Proof.
