import Mathlib.Tactic
import Demo.Defs

/-!
# Holes of several shapes

A module doc comment that mentions sorry, and a nested /- comment with sorry -/ inside it.
-/

open Nat

namespace Demo

/-- Doubling, as a definition with a proof-free body. -/
def double (n : ℕ) : ℕ := 2 * n

-- a line comment: theorem fake : False := sorry
theorem double_zero : double 0 = 0 := by
  sorry

/-- A doc comment saying `sorry` is not a hole. -/
@[simp]
theorem double_succ (n : ℕ) : double (n + 1) = double n + 2 := by
  unfold double
  ring

@[simp] lemma double_add (a b : ℕ) :
    double (a + b) = double a + double b := sorry

section Parity

variable {m : ℕ}

theorem double_even (n : ℕ) : Even (double n) := by
  constructor
  · sorry  -- first step
  · /- a block comment: sorry -/
    sorry

def message : String := "this sorry is in a string"

example : double 2 = 4 := by
  simp [double]

example (h : m = 1) : double m = 2 := by
  subst h
  sorry

end Parity

/-- Doubling never makes a number smaller. -/
protected theorem _root_.Nat.le_double (n : ℕ) : n ≤ double n := by
  unfold double
  sorry

private lemma triple_le_double_add (n : ℕ) : triple n ≤ double n + n := by
  unfold triple double; omega

theorem double_pos : ∀ n : ℕ, 0 < n → 0 < double n
  | 0, h => absurd h (lt_irrefl 0)
  | n + 1, _ => sorry

theorem uses_open (n : ℕ) : double (n + 0) = double n + double 0 := by
  rw [double_add]

end Demo
