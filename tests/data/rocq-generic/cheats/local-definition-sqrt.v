(* Variant: Local Definition of sqrt. Refused, naming "'sqrt'". *)
Require Import Reals.
Open Scope R_scope.
Local Definition sqrt (x : R) : R := x.
Theorem t : sqrt 4 = 4.
Proof. reflexivity. Qed.
