(* Honest: a lemma stated in a section with variables it does not use: its type is its statement. *)
Section S.
  Variable n : nat.
  Hypothesis positive : 0 < n.
  Lemma plain : 2 + 2 = 4.
  Proof. reflexivity. Qed.
End S.
Theorem t : 2 + 2 = 4.
Proof. exact plain. Qed.
