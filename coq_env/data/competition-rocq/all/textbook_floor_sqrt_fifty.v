Require Import Reals.
Require Import ZArith.
Open Scope R_scope.

Theorem textbook_floor_sqrt_fifty :
  Int_part (sqrt 50) = 7%Z.
Proof.
