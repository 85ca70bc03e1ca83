(* Issue 19: an axiom the theorem does not use; the README refuses every declared axiom. Refused, naming "Axiom". *)
Polymorphic Axiom cheat : False.
Theorem t : 1 = 1.
Proof. reflexivity. Qed.
