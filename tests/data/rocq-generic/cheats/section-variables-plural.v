(* Variant: plural Variables. Refused, naming "section". *)
Section S.
  Variables (cheat : False) (n : nat).
  Theorem t : 1 = 2.
  Proof. destruct cheat. Qed.
End S.
