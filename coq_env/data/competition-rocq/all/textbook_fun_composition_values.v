Require Import Reals.
Open Scope R_scope.

Theorem textbook_fun_composition_values :
  forall f g : R -> R,
  (forall x, f x = 2 * x + 3) ->
  (forall x, g x = x^2 - 1) ->
  f (g 2) - g (f 2) = -39.
Proof.
