(* Title: Foo.thy
   Holes left for the prover.  A (* nested sorry *) comment is no hole. *)
theory Foo
  imports Basics "HOL-Library.Multiset"
begin

text \<open>Proofs marked sorry in this text are not holes: \<open>sorry\<close>.\<close>

lemma add_zero_right [simp]: "n + 0 = (n::nat)"
  sorry

lemma double_mono:
  assumes "m \<le> n"
  shows "double m \<le> double n"
  using assms by simp

lemma swap_twice: "rev (rev xs) = xs"
  apply (induct xs)
   apply simp
  sorry

lemma sum_le:
  fixes a b :: nat
  assumes h: "a \<le> b"
  shows "a + a \<le> b + b"
proof -
  have step1: "a + a \<le> b + a" using h sorry
  moreover have "b + a \<le> b + b"
    using h sorry
  ultimately show ?thesis by (rule order_trans)
qed

lemma not_stated: "length (xs @ ys) = length xs + length ys"
proof (induct xs)
  case Nil
  show ?case sorry
next
  case (Cons x xs)
  then show ?case by simp
qed

lemma abandoned: "(x::nat) = x + 0 * y"
  apply auto
  oops

lemma mentions_in_string: "''sorry'' \<noteq> ''oops''"
  by simp

locale semi =
  fixes f :: "'a \<Rightarrow> 'a \<Rightarrow> 'a"
  assumes assoc: "f (f x y) z = f x (f y z)"
begin

lemma assoc4: "f (f (f a b) c) d = f a (f b (f c d))"
  sorry

end

context semi
begin

theorem assoc_left: "f a (f b c) = f (f a b) c"
  by (simp add: assoc)

corollary twice_assoc: "f (f a b) (f c d) = f a (f b (f c d))"
  using assoc4 sorry

end

notepad
begin
  have "True" sorry
end

proposition uses_open: "double (n + 0) = 2 * n"
  by (simp add: add_zero_right)

lemma "True \<or> False"
  sorry

end
