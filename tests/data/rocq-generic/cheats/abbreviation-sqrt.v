(* Variant: an abbreviation named like the library's square root. Refused, naming "'sqrt'". *)
Require Import Reals.
Open Scope R_scope.
Notation sqrt := (fun x : R => x).
Theorem t : sqrt 4 = 4.
Proof. reflexivity. Qed.
