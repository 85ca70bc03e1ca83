(* Variant: plural Hypotheses. Refused, naming "section". *)
Section S.
  Hypotheses (cheat : False) (unused : True).
  Lemma t : 0 = 1.
  Proof. destruct cheat. Qed.
End S.
