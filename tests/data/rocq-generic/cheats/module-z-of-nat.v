(* Variant: a module named Z gives `Z.of_nat` a meaning of its own. Refused, naming "'Z.of_nat'". *)
Require Import ZArith.
Module Z.
  Definition of_nat (n : nat) : Z := 0%Z.
End Z.
Theorem t : Z.of_nat 7 = 0%Z.
Proof. reflexivity. Qed.
