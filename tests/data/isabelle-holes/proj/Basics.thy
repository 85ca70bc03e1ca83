theory Basics
  imports Main
begin

definition double :: "nat \<Rightarrow> nat" where
  "double n = n + n"

lemma double_eq [simp]: "double n = 2 * n"
  by (simp add: double_def)

end
