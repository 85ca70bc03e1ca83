(* Variant: an unused declaration behind "Polymorphic Parameter". Refused, naming "Parameter". *)
Polymorphic Parameter cheat : False.
Theorem t : 1 = 1.
Proof. reflexivity. Qed.
