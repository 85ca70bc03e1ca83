(* Variant: `+` made to mean multiplication. Refused, naming "'+'". *)
Notation "x + y" := (Nat.mul x y) (at level 50, left associativity) : nat_scope.
Theorem t : 2 + 2 = 4 /\ 3 + 3 = 9.
Proof. split; reflexivity. Qed.
