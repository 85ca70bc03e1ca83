(* Variant: the statement reads about a fixed n, the theorem is about every n with n = 3. Refused, naming "section". *)
Section S.
  Variable n : nat.
  Hypothesis hn : n = 3.
  Theorem t : n + 1 = 4.
  Proof. rewrite hn. reflexivity. Qed.
End S.
