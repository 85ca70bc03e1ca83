(* Variant: the hypothesis sits in an inner section. Refused, naming "section". *)
Section Outer.
  Section Inner.
    Hypothesis cheat : False.
    Theorem t : 1 = 2.
    Proof. destruct cheat. Qed.
  End Inner.
End Outer.
