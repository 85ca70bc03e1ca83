(* Variant: Infix form. Refused, naming "'+'". *)
Infix "+" := Nat.mul : nat_scope.
Theorem t : 3 + 3 = 9.
Proof. reflexivity. Qed.
