Require Import Reals.
Open Scope R_scope.

Theorem textbook_sys_three_pair_sums :
  forall x y z : R,
  x + y = 10 ->
  y + z = 14 ->
  x + z = 12 ->
  x * y * z = 192.
Proof.
