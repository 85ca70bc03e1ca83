(* Issue 19: a section Context binder of type False. Refused, naming "section". *)
Section S.
  Context (cheat : False).
  Theorem t : 2 + 2 = 5.
  Proof. destruct cheat. Qed.
End S.
