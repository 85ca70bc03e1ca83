(** The base of the Foo library: a definition with a notation, a section with variables, a module. *)
From Coq Require Import Arith Lia.

Definition double (n : nat) : nat := n + n.

(* `x +++ y` adds y twice. *)
Notation "x +++ y" := (x + double y) (at level 50, left associativity).

Section Iterate.
  Variable A : Type.
  Variable step : A -> A.

  Fixpoint iter (n : nat) (x : A) : A :=
    match n with
    | 0 => x
    | S m => step (iter m x)
    end.

  Lemma iter_S : forall n x, iter (S n) x = step (iter n x).
  Proof. reflexivity. Qed.
End Iterate.

Module Parity.
  Fixpoint even (n : nat) : bool :=
    match n with
    | 0 => true
    | 1 => false
    | S (S m) => even m
    end.

  Lemma even_SS : forall n, even (S (S n)) = even n.
  Proof. reflexivity. Qed.
End Parity.
