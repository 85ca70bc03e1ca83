(* Issue 19: `=` made to mean something always true. Refused, naming "'='". *)
Notation "x = y" := (@eq _ x x) (at level 70, no associativity) : type_scope.
Theorem t : 1 = 2.
Proof. reflexivity. Qed.
