Require Import Reals.
Open Scope R_scope.

Theorem textbook_sys_reciprocals :
  forall x y : R,
  x <> 0 ->
  y <> 0 ->
  1 / x + 1 / y = 5 ->
  1 / x - 1 / y = 1 ->
  x = 1 / 3.
Proof.
