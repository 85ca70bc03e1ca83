(* Variant: `sqrt x` read through a notation that squares. Refused, naming "'sqrt'". *)
Require Import Reals.
From Coq Require Import Lra.
Open Scope R_scope.
Notation "'sqrt' x" := (x * x) (at level 10).
Theorem t : sqrt 3 = 9.
Proof. lra. Qed.
