(* Variant: a control prefix in front of the section hypothesis. Refused, naming "section". *)
Section S.
  Time Hypothesis cheat : False.
  Theorem t : 1 = 2.
  Proof. destruct cheat. Qed.
End S.
