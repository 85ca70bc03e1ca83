(* Variant: an unused declaration behind "#[local] Polymorphic Conjecture". Refused, naming "Conjecture". *)
#[local] Polymorphic Conjecture cheat : False.
Theorem t : 1 = 1.
Proof. reflexivity. Qed.
