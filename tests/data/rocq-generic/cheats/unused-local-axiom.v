(* Variant: an unused declaration behind "Local Axiom". Refused, naming "Axiom". *)
Local Axiom cheat : False.
Theorem t : 1 = 1.
Proof. reflexivity. Qed.
