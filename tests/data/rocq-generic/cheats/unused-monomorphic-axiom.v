(* Variant: an unused declaration behind "Monomorphic Axiom". Refused, naming "Axiom". *)
Monomorphic Axiom cheat : False.
Theorem t : 1 = 1.
Proof. reflexivity. Qed.
