(* Issue 19: `*` made to mean `+` for this file only. Refused, naming "'*'". *)
Local Notation "x * y" := (Nat.add x y) (at level 40, left associativity) : nat_scope.
Theorem t : 2 * 3 = 5.
Proof. reflexivity. Qed.
