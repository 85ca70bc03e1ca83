(* Honest: a theorem inside a module is checked under its full name, M.t. *)
Require Import Arith.
From Coq Require Import Lia.
Module M.
  Theorem t : forall x : nat, 2 * (2 * x) = 12 -> x = 3.
  Proof. intros. lia. Qed.
End M.
