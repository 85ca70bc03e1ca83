Require Import Reals.
Open Scope R_scope.

Theorem textbook_fun_linear_two_values :
  forall (a b : R) (f : R -> R),
  (forall x, f x = a * x + b) ->
  f 1 = 5 ->
  f 3 = 11 ->
  f 10 = 32.
Proof.
