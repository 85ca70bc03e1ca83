Require Import Reals.
Require Import ZArith.
Open Scope R_scope.

Theorem textbook_floor_superadditive :
  forall x y : R,
  (Int_part x + Int_part y <= Int_part (x + y))%Z.
Proof.
