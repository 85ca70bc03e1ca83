(* Honest: a notation whose symbols are the file's own. *)
Definition dbl (n : nat) : nat := n + n.
Notation "n ⊕ m" := (dbl n + m) (at level 50, left associativity).
Local Notation "'twice' n" := (dbl n) (at level 10).
Theorem t : 2 ⊕ 1 = 5 /\ twice 3 = 6.
Proof. split; reflexivity. Qed.
