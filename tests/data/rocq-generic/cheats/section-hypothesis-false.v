(* Issue 19: the theorem reads `1 = 2` but, discharged, proves `False -> 1 = 2`. Refused, naming "section". *)
Section S.
  Hypothesis cheat : False.
  Theorem t : 1 = 2.
  Proof. destruct cheat. Qed.
End S.
