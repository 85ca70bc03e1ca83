(** Lemmas about Foo.Base, some still open. A finished proof may say "Admitted." in a comment. *)
From Foo Require Import Base.
From Coq Require Import Lia.

Lemma double_0 : double 0 = 0.
Proof. reflexivity. (* not Admitted. any more *) Qed.

Lemma double_plus : forall n m,
    double (n + m) =
    double n + double m.
Proof.
  intros n m. unfold double.
Admitted.

(* Lemma forgotten : False.
   Admitted. *)

Lemma plus3_double : forall x y, x +++ y = x + y + y.
Admitted.

Section WithStep.
  Variable f : nat -> nat.
  Hypothesis f_id : forall n, f n = n.

  Lemma iter_f_id : forall n x, iter nat f n x = x /\ f x = x.
  Proof.
    intros n x. split.
    - induction n as [|n IH].
      + reflexivity.
      + simpl. rewrite f_id. (* "admit." in a string of a comment *) admit.
    - admit.
  Qed.
End WithStep.

Module Evens.
  #[local] Lemma even_4 : Parity.even 4 = true.
  Proof. Admitted.
End Evens.

Theorem double_even : forall n, Parity.even (double n) = true.
Proof.
  intros n. unfold double.
  (* the lemmas above are still open: this proof may not rest on them *)
Admitted.
