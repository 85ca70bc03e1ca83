(* Variant: Declare Instance declares an axiom. Refused, naming "Declare Instance". *)
Class Cheat := { cheat : False }.
Declare Instance c : Cheat.
Theorem t : 1 = 2.
Proof. destruct cheat. Qed.
