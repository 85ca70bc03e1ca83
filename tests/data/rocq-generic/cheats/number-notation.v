(* Variant: numerals read by a function of the file's own. Refused, naming "Number Notation". *)
Inductive num := Num (n : nat).
Definition of_uint (u : Number.uint) : num := Num 0.
Definition to_uint (x : num) : Number.uint := Nat.to_num_uint 0.
Declare Scope num_scope.
Number Notation num of_uint to_uint : num_scope.
Open Scope num_scope.
Theorem t : 2 = 3.
Proof. reflexivity. Qed.
