(* Variant: a section helper whose hypothesis is false, applied by a top-level theorem that only moves it along.
   Refused, naming "section". *)
Section S.
  Hypothesis cheat : False.
  Lemma helper : 1 = 2.
  Proof. destruct cheat. Qed.
End S.
Theorem t : False -> 1 = 2.
Proof. exact helper. Qed.
