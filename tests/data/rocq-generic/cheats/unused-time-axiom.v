(* Variant: an unused declaration behind "Time Axiom". Refused, naming "Axiom". *)
Time Axiom cheat : False.
Theorem t : 1 = 1.
Proof. reflexivity. Qed.
