(* Variant: a section Let named ln, gone from the compiled file. Refused, naming "'ln'". *)
Require Import Reals.
Open Scope R_scope.
Section S.
  Let ln (x : R) : R := 0.
  Theorem t : ln 5 = 0.
  Proof. reflexivity. Qed.
End S.
