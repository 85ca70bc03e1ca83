Require Import Reals.
Open Scope R_scope.
From Coq Require Import Lia Lra Psatz Field Ring.

Theorem aime_1984_p15:
  forall (x y z w : R),
  (x^2 / (2^2 - 1) + y^2 / (2^2 - 3^2) + z^2 / (2^2 - 5^2) + w^2 / (2^2 - 7^2) = 1) ->
  (x^2 / (4^2 - 1) + y^2 / (4^2 - 3^2) + z^2 / (4^2 - 5^2) + w^2 / (4^2 - 7^2) = 1) ->
  (x^2 / (6^2 - 1) + y^2 / (6^2 - 3^2) + z^2 / (6^2 - 5^2) + w^2 / (6^2 - 7^2) = 1) ->
  (x^2 / (8^2 - 1) + y^2 / (8^2 - 3^2) + z^2 / (8^2 - 5^2) + w^2 / (8^2 - 7^2) = 1) ->
  x^2 + y^2 + z^2 + w^2 = 36.
Proof.
  intros.
  lra.
Qed.
