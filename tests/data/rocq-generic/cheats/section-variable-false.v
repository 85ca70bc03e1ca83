(* Issue 19: a section Variable of type False. Refused, naming "section". *)
Section S.
  Variable cheat : False.
  Theorem t : forall n : nat, n = n + 1.
  Proof. destruct cheat. Qed.
End S.
