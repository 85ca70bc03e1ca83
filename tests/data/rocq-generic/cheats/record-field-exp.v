(* Variant: a record field named exp shadows the exponential. Refused, naming "'exp'". *)
Require Import Reals.
Open Scope R_scope.
Record wrapper := { exp : R -> R }.
Theorem t : forall w : wrapper, exp w 0 = exp w 0.
Proof. reflexivity. Qed.
