(* Issue 19: `lra` redefined inside the section to use the False hypothesis, so the proof reads honest.
   Refused, naming "section". *)
Require Import Reals.
From Coq Require Import Lia Lra Psatz Field Ring.
Open Scope R_scope.
Section S.
  Hypothesis cheat : False.
  Ltac lra := destruct cheat.
  Theorem t : forall x : R, x = x + 1.
  Proof. intros x. lra. Qed.
End S.
