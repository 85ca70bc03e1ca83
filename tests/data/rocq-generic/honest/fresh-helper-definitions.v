(* Honest: the file's own helper definitions under fresh names, including the commonest, f. *)
Require Import Reals.
From Coq Require Import Lia Lra Psatz Field Ring.
Open Scope R_scope.
Definition f (x : R) : R := 2 * x + 3.
Definition sq (x : R) : R := x * x.
Lemma sq_nonneg (x : R) : 0 <= sq x.
Proof. unfold sq. nra. Qed.
Theorem f_at_2 : f 2 = 7.
Proof. unfold f. lra. Qed.
