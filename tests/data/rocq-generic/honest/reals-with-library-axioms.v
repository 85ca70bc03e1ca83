(* Honest: a Reals proof that rests on the library's own axioms. *)
Require Import Reals.
From Coq Require Import Lra.
Open Scope R_scope.
Theorem t : forall x : R, 3 * x + 2 = 11 -> x = 3.
Proof. intros. lra. Qed.
