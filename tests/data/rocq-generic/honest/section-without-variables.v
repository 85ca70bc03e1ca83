(* Honest: a section used only for grouping, with a transparent Let. *)
Section Arith.
  Let three := 3.
  Theorem t : 1 + 2 = three.
  Proof. reflexivity. Qed.
End Arith.
