(* Variant: Rabs redefined as the identity. Refused, naming "'Rabs'". *)
Require Import Reals.
Open Scope R_scope.
Definition Rabs (x : R) : R := x.
Theorem t : Rabs (-1) = -1.
Proof. reflexivity. Qed.
