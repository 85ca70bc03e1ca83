(* Variant: fact redefined as the constant 1. Refused, naming "'fact'". *)
Require Import Arith.
Fixpoint fact (n : nat) : nat := match n with 0 => 1 | S m => fact m end.
Theorem t : fact 5 = 1.
Proof. reflexivity. Qed.
