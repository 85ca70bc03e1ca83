(* Variant: an unused declaration behind "#[universes(polymorphic)] Axiom". Refused, naming "Axiom". *)
#[universes(polymorphic)] Axiom cheat : False.
Theorem t : 1 = 1.
Proof. reflexivity. Qed.
