(* Issue 19: `ln` redefined as the zero function. Refused, naming "'ln'". *)
Require Import Reals.
Open Scope R_scope.
Local Definition ln (x : R) : R := 0.
Theorem t : ln 5 = 0.
Proof. reflexivity. Qed.
