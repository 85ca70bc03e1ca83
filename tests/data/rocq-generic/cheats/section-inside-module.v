(* Variant: the section sits in a module, so the theorem is M.t. Refused, naming "section". *)
Module M.
  Section S.
    Context {cheat : False}.
    Theorem t : 1 = 2.
    Proof. destruct cheat. Qed.
  End S.
End M.
