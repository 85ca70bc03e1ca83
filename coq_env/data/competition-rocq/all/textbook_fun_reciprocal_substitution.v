Require Import Reals.
Open Scope R_scope.

Theorem textbook_fun_reciprocal_substitution :
  forall f : R -> R,
  (forall x, x <> 0 -> f x + 2 * f (1 / x) = 3 * x) ->
  f 2 = -1.
Proof.
