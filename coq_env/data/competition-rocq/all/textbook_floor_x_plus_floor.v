Require Import Reals.
Require Import ZArith.
Open Scope R_scope.

Theorem textbook_floor_x_plus_floor :
  forall x : R,
  x + IZR (Int_part x) = 163 / 10 ->
  x = 83 / 10.
Proof.
