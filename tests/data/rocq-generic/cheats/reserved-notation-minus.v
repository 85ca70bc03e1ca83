(* Variant: a reserved then defined `-`. Refused, naming "'-'". *)
Reserved Notation "x - y" (at level 50, left associativity).
Notation "x - y" := (Nat.add x y) : nat_scope.
Theorem t : 3 - 1 = 4.
Proof. reflexivity. Qed.
