(* Honest: helpers with fresh names in a module, a section whose variable only a definition uses. *)
Require Import Reals.
Open Scope R_scope.
Module Helpers.
  Definition sq (x : R) : R := x * x.
  Lemma sq_nonneg_h (x : R) : 0 <= sq x.
  Proof. unfold sq. apply Rle_0_sqr. Qed.
End Helpers.
Section Aux.
  Variable n : nat.
  Definition twice := (n + n)%nat.
  Lemma one_one : (1 = 1)%nat.
  Proof. reflexivity. Qed.
End Aux.
Theorem main (x : R) : 0 <= Helpers.sq x + 0.
Proof. rewrite Rplus_0_r. apply Helpers.sq_nonneg_h. Qed.
Theorem tw : twice 2 = 4%nat.
Proof. reflexivity. Qed.
