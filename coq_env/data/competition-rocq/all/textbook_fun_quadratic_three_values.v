Require Import Reals.
Open Scope R_scope.

Theorem textbook_fun_quadratic_three_values :
  forall (a b c : R) (f : R -> R),
  (forall x, f x = a * x^2 + b * x + c) ->
  f 0 = 1 ->
  f 1 = 4 ->
  f 2 = 11 ->
  f 3 = 22.
Proof.
